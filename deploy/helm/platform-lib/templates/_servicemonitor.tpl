{{- define "platform-lib.servicemonitor" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- if $c.serviceMonitor.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "platform-lib.name" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
    {{- with $c.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/name
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  selector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ include "platform-lib.metricsPortName" . }}
      path: /metrics
      interval: {{ $c.serviceMonitor.interval }}
      scrapeTimeout: {{ $c.serviceMonitor.scrapeTimeout }}
{{- end -}}
{{- end -}}
