{{/*
The gateway's public API through an Ingress with TLS (cert-manager issues the certificate from
the annotations): only the public paths (/v1, where the bank's callbacks arrive too); /metrics is
on its own port and /docs, /readyz stay inside the cluster.
*/}}
{{- define "platform-lib.ingress" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- if and $c.ingress.enabled (eq $c.server "http") -}}
{{- $name := include "platform-lib.name" . -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
  {{- with $c.ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $c.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  tls:
    - hosts: [{{ required "ingress.host is required" $c.ingress.host | quote }}]
      secretName: {{ $c.ingress.tlsSecretName | default (printf "%s-tls" $name) }}
  rules:
    - host: {{ $c.ingress.host | quote }}
      http:
        paths:
          {{- range $c.ingress.paths }}
          - path: {{ . }}
            pathType: Prefix
            backend:
              service:
                name: {{ $name }}
                port:
                  name: http
          {{- end }}
{{- end -}}
{{- end -}}
