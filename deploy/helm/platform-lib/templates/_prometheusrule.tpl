{{/* Alerts on the metrics of libs/servicekit/metrics.py (gRPC services) and of the gateway. */}}
{{- define "platform-lib.prometheusrule" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- $r := $c.prometheusRule -}}
{{- if $r.enabled -}}
{{- $name := include "platform-lib.name" . -}}
{{- $alert := $name | camelcase | replace "-" "" -}}
{{- $sel := printf "job=%q, namespace=%q" $name .Release.Namespace -}}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
    {{- with $r.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ $name }}
      rules:
        - alert: {{ $alert }}Down
          expr: sum(up{ {{- $sel -}} }) == 0
          for: 5m
          labels:
            severity: critical
            service: {{ $name }}
          annotations:
            summary: No {{ $name }} pod has answered a scrape for 5 minutes.
        {{- if eq $c.server "grpc" }}
        - alert: {{ $alert }}GrpcErrorRatioHigh
          expr: |
            sum(rate(grpc_server_handled_total{ {{- $sel -}}, grpc_code=~"INTERNAL|UNKNOWN|DATA_LOSS|UNAVAILABLE|DEADLINE_EXCEEDED"}[5m]))
              / sum(rate(grpc_server_handled_total{ {{- $sel -}} }[5m])) > {{ $r.errorRatio }}
          for: 10m
          labels:
            severity: warning
            service: {{ $name }}
          annotations:
            summary: More than {{ mulf $r.errorRatio 100 }}% of {{ $name }} RPCs fail with a server-side error.
        - alert: {{ $alert }}OutboxStuck
          expr: max(outbox_oldest_pending_seconds{ {{- $sel -}} }) > {{ $r.outboxMaxAgeSeconds | int }}
          for: 5m
          labels:
            severity: critical
            service: {{ $name }}
          annotations:
            summary: Events of {{ $name }} wait in the outbox for more than {{ $r.outboxMaxAgeSeconds | int }}s (Kafka down or relay stuck).
        - alert: {{ $alert }}WorkerStalled
          expr: time() - max by (worker) (background_worker_last_success_timestamp_seconds{ {{- $sel -}} }) > {{ $r.workerStallSeconds | int }}
          for: 5m
          labels:
            severity: warning
            service: {{ $name }}
          annotations:
            summary: A background worker of {{ $name }} has not completed a cycle for {{ $r.workerStallSeconds | int }}s.
        - alert: {{ $alert }}ConsumerLagHigh
          expr: sum by (group, topic) (kafka_consumer_lag_messages{ {{- $sel -}} }) > {{ $r.consumerLagMessages | int }}
          for: 15m
          labels:
            severity: warning
            service: {{ $name }}
          annotations:
            summary: A consumer group of {{ $name }} lags more than {{ $r.consumerLagMessages | int }} messages.
        {{- else }}
        - alert: {{ $alert }}Http5xxRatioHigh
          expr: |
            sum(rate(http_requests_total{ {{- $sel -}}, status=~"5.."}[5m]))
              / sum(rate(http_requests_total{ {{- $sel -}} }[5m])) > {{ $r.errorRatio }}
          for: 10m
          labels:
            severity: critical
            service: {{ $name }}
          annotations:
            summary: More than {{ mulf $r.errorRatio 100 }}% of gateway requests answer 5xx.
        {{- end }}
{{- end -}}
{{- end -}}
