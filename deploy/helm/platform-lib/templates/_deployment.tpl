{{- define "platform-lib.env" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- if $c.kafka.enabled }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" $c.kafka.bootstrapServers | quote }}
- name: KAFKA_REPLICATION_FACTOR
  value: {{ $c.kafka.replicationFactor | int | quote }}
- name: KAFKA_TOPIC_PARTITIONS
  value: {{ $c.kafka.topicPartitions | int | quote }}
- name: KAFKA_MIN_INSYNC_REPLICAS
  value: {{ $c.kafka.minInsyncReplicas | int | quote }}
- name: KAFKA_CREATE_TOPICS
  value: {{ ternary "1" "0" (eq (toString $c.kafka.createTopics) "true") | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $c.kafka.securityProtocol | quote }}
{{- if eq $c.kafka.securityProtocol "SASL_SSL" }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $c.kafka.saslMechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ $c.kafka.username | default (include "platform-lib.name" .) | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $c.kafka.credentialsSecretName | default (printf "%s-kafka" (include "platform-lib.name" .)) }}
      key: password
- name: KAFKA_SSL_CAFILE
  value: /etc/passport/kafka-ca/ca.crt
{{- end }}
{{- end }}
{{- if $c.mongo.enabled }}
- name: MONGO_URI
  valueFrom:
    secretKeyRef:
      name: {{ required "mongo.secretName is required" $c.mongo.secretName }}
      # this service's own credential (a key per service)
      key: {{ $c.mongo.uriKey | default (include "platform-lib.name" .) }}
{{- end }}
{{- if eq $c.server "grpc" }}
- name: GRPC_PORT
  value: {{ $c.ports.grpc | int | quote }}
{{- end }}
- name: METRICS_PORT
  value: {{ $c.ports.metrics | int | quote }}
{{- if $c.grpcTls.enabled }}
- name: GRPC_TLS_CA
  value: /etc/passport/grpc-tls/ca.crt
- name: GRPC_TLS_CERT
  value: /etc/passport/grpc-tls/tls.crt
- name: GRPC_TLS_KEY
  value: /etc/passport/grpc-tls/tls.key
{{- end }}
{{- if $c.identity.enabled }}
- name: IDENTITY_VERIFY_KEYS
  value: {{ include "platform-lib.identityKeys" $c | quote }}
{{- if $c.identity.signs }}
- name: IDENTITY_SIGNING_KEY
  value: /etc/passport/identity-signing/signing.key
- name: IDENTITY_KEY_ID
  value: {{ required "identity.signingKeyId is required" $c.identity.signingKeyId | quote }}
{{- end }}
{{- end }}
{{- range $peer, $addr := $c.peers }}
- name: {{ printf "%s_ADDR" ($peer | upper | replace "-" "_") }}
  value: {{ $addr | quote }}
{{- end }}
{{- range $name, $ref := $c.secretEnv }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName | default $c.secrets.name }}
      key: {{ required (printf "secretEnv.%s.key is required" $name) $ref.key }}
      {{- if $ref.optional }}
      optional: true
      {{- end }}
{{- end }}
{{- range $name, $value := $c.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "platform-lib.identityKeys" -}}
{{- $keys := list -}}
{{- range .identity.keyIds }}{{ $keys = append $keys (printf "%s=/etc/passport/identity/%s.pub" . .) }}{{ end -}}
{{- join "," $keys -}}
{{- end -}}

{{- define "platform-lib.probes" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- $p := $c.probes -}}
{{- if eq $c.server "grpc" }}
# The gRPC port takes only callers with a platform certificate, which the kubelet has not: the
# probes ask the metrics port's /readyz (serving once the gRPC server is up, not while draining).
startupProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: {{ $p.startup.periodSeconds | int }}
  failureThreshold: {{ $p.startup.failureThreshold | int }}
# Liveness asks the metrics server (its own thread; the gateway's gunicorn master), not the
# request pool: a rush that fills the pool makes a pod unready, never restarts it.
livenessProbe:
  httpGet:
    path: /metrics
    port: metrics
  periodSeconds: {{ $p.liveness.periodSeconds | int }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds | int }}
  failureThreshold: {{ $p.liveness.failureThreshold | int }}
readinessProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: {{ $p.readiness.periodSeconds | int }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds | int }}
  failureThreshold: {{ $p.readiness.failureThreshold | int }}
{{- else }}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: {{ $p.startup.periodSeconds | int }}
  failureThreshold: {{ $p.startup.failureThreshold | int }}
livenessProbe:
  httpGet:
{{- if $p.liveness.onMetrics }}
    path: /metrics
    port: metrics
{{- else }}
    path: /healthz
    port: http
{{- end }}
  periodSeconds: {{ $p.liveness.periodSeconds | int }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds | int }}
  failureThreshold: {{ $p.liveness.failureThreshold | int }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: {{ $p.readiness.periodSeconds | int }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds | int }}
  failureThreshold: {{ $p.readiness.failureThreshold | int }}
{{- end }}
{{- end -}}

{{- define "platform-lib.deployment" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- if not (has $c.server (list "grpc" "http")) -}}
{{- fail (printf "server must be grpc or http, not %v" $c.server) -}}
{{- end -}}
{{- $name := include "platform-lib.name" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "platform-lib.labels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicaCount | int }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "platform-lib.labels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $c.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "platform-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- if lt (int $c.terminationGracePeriodSeconds) (add (int $c.preStopSleepSeconds) 20 | int) }}
      {{- fail (printf "terminationGracePeriodSeconds (%v) must cover preStopSleepSeconds + 20 s of drain" $c.terminationGracePeriodSeconds) }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds | int }}
      {{- with $c.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      {{- if $c.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ $c.topologySpread.maxSkew | int }}
          topologyKey: {{ $c.topologySpread.topologyKey }}
          whenUnsatisfiable: {{ $c.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "platform-lib.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $name }}
          image: {{ include "platform-lib.image" . }}
          imagePullPolicy: {{ $c.image.pullPolicy }}
          ports:
            {{- if eq $c.server "grpc" }}
            - name: grpc
              containerPort: {{ $c.ports.grpc | int }}
              protocol: TCP
            {{- else }}
            - name: http
              containerPort: {{ $c.ports.http | int }}
              protocol: TCP
            {{- end }}
            - name: metrics
              containerPort: {{ $c.ports.metrics | int }}
              protocol: TCP
          {{- with include "platform-lib.env" . | trim }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          {{- include "platform-lib.probes" . | trim | nindent 10 }}
          # The endpoints controller takes the pod out of its Services while this sleep runs, so no
          # new call arrives after SIGTERM; then the process drains (gRPC: 5 s grace + one 10 s
          # worker-join deadline; gunicorn: --graceful-timeout 10) within terminationGracePeriodSeconds.
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $c.preStopSleepSeconds | int }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            runAsNonRoot: true
            runAsUser: 10001
            runAsGroup: 10001
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            privileged: false
            capabilities:
              drop: ["ALL"]
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $c.grpcTls.enabled }}
            - name: grpc-tls
              mountPath: /etc/passport/grpc-tls
              readOnly: true
            {{- end }}
            {{- if and $c.kafka.enabled (eq $c.kafka.securityProtocol "SASL_SSL") }}
            - name: kafka-ca
              mountPath: /etc/passport/kafka-ca
              readOnly: true
            {{- end }}
            {{- if $c.identity.enabled }}
            - name: identity
              mountPath: /etc/passport/identity
              readOnly: true
            {{- if $c.identity.signs }}
            - name: identity-signing
              mountPath: /etc/passport/identity-signing
              readOnly: true
            {{- end }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $c.tmp.sizeLimit }}
        {{- if $c.grpcTls.enabled }}
        - name: grpc-tls
          secret:
            secretName: {{ $c.grpcTls.secretName | default (printf "%s-grpc-tls" $name) }}
            defaultMode: 0440
        {{- end }}
        {{- if and $c.kafka.enabled (eq $c.kafka.securityProtocol "SASL_SSL") }}
        - name: kafka-ca
          secret:
            secretName: {{ required "kafka.caSecretName is required" $c.kafka.caSecretName }}
            items:
              - key: ca.crt
                path: ca.crt
            defaultMode: 0444
        {{- end }}
        {{- if $c.identity.enabled }}
        - name: identity
          secret:
            secretName: {{ required "identity.secretName is required" $c.identity.secretName }}
            defaultMode: 0444
        {{- if $c.identity.signs }}
        - name: identity-signing
          secret:
            secretName: {{ required "identity.signingSecretName is required" $c.identity.signingSecretName }}
            defaultMode: 0440
        {{- end }}
        {{- end }}
{{- end -}}
