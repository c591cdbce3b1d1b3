{{- /*
The pod's gRPC certificate from cert-manager (grpcTls.certManager.enabled): common name = the
service identity that servers check; DNS names = how peers reach it (the headless Service).
*/ -}}
{{- define "platform-lib.certificate" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- if and $c.grpcTls.enabled $c.grpcTls.certManager.enabled }}
{{- $name := include "platform-lib.name" . -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ $name }}-grpc
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
spec:
  secretName: {{ $c.grpcTls.secretName | default (printf "%s-grpc-tls" $name) }}
  commonName: {{ $name }}
  dnsNames:
    - {{ $name }}
    - {{ $name }}.{{ .Release.Namespace }}.svc
    - {{ $name }}.{{ .Release.Namespace }}.svc.cluster.local
  duration: {{ $c.grpcTls.certManager.duration }}
  renewBefore: {{ $c.grpcTls.certManager.renewBefore }}
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  usages: [server auth, client auth]
  issuerRef:
    {{- toYaml $c.grpcTls.certManager.issuerRef | nindent 4 }}
{{- end }}
{{- end -}}
