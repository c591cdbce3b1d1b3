{{/*
Default deny for the service's pods, then: the gateway takes traffic on its HTTP port from
networkPolicy.ingressFrom (any source when empty); a gRPC service takes its gRPC port only from
the workloads in `callers`; Prometheus (namespace prometheus.namespace) may scrape the metrics
port. Egress: DNS, the gRPC ports of `peers`, MongoDB and Kafka.
*/}}
{{- define "platform-lib.networkpolicy" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- $np := $c.networkPolicy -}}
{{- if $np.enabled -}}
{{- $metricsPort := $c.ports.metrics -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "platform-lib.name" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    {{- if eq $c.server "http" }}
    # Clients of the public API.
    - ports:
        - port: {{ $c.ports.http | int }}
          protocol: TCP
      {{- with $np.ingressFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- else if $c.callers }}
    # gRPC callers: {{ join ", " $c.callers }}
    - ports:
        - port: {{ $c.ports.grpc | int }}
          protocol: TCP
      from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: passport-platform
            matchExpressions:
              - key: app.kubernetes.io/name
                operator: In
                values:
                  {{- toYaml $c.callers | nindent 18 }}
    {{- end }}
    # Prometheus scrapes.
    - ports:
        - port: {{ $metricsPort | int }}
          protocol: TCP
      from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ required "prometheus.namespace is required" $c.prometheus.namespace }}
          {{- with $c.prometheus.podLabels }}
          podSelector:
            matchLabels:
              {{- toYaml . | nindent 14 }}
          {{- end }}
    {{- with $np.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    # DNS.
    - ports:
        {{- range $np.dns.ports }}
        - port: {{ . | int }}
          protocol: UDP
        - port: {{ . | int }}
          protocol: TCP
        {{- end }}
      {{- with $np.dns.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- range $peer, $addr := $c.peers }}
    # gRPC peer {{ $peer }}.
    - ports:
        - port: {{ regexReplaceAll "^.*:" (first (splitList "," $addr)) "" | int }}
          protocol: TCP
      to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: passport-platform
              app.kubernetes.io/name: {{ $peer }}
    {{- end }}
    {{- if $c.mongo.enabled }}
    # MongoDB.
    - ports:
        {{- range $np.mongo.ports }}
        - port: {{ . | int }}
          protocol: TCP
        {{- end }}
      {{- with $np.mongo.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- if $c.kafka.enabled }}
    # Kafka.
    - ports:
        {{- range $np.kafka.ports }}
        - port: {{ . | int }}
          protocol: TCP
        {{- end }}
      {{- with $np.kafka.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}
