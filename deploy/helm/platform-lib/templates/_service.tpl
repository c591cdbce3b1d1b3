{{- define "platform-lib.service" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "platform-lib.name" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
spec:
  type: {{ $c.service.type }}
  {{- if and (eq $c.server "grpc") $c.service.headless (eq $c.service.type "ClusterIP") }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "platform-lib.selectorLabels" . | nindent 4 }}
  ports:
    {{- if eq $c.server "grpc" }}
    - name: grpc
      port: {{ $c.ports.grpc | int }}
      targetPort: grpc
      protocol: TCP
    {{- else }}
    - name: http
      port: {{ $c.ports.http | int }}
      targetPort: http
      protocol: TCP
    {{- end }}
    - name: metrics
      port: {{ $c.ports.metrics | int }}
      targetPort: metrics
      protocol: TCP
{{- end -}}
