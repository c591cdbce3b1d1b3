{{/*
Built-in defaults of every service chart. The values a template sees are these, overlaid by
`.Values.global` (platform-wide: the umbrella chart or values-production.yaml set them), overlaid
by the chart's own values (service-specific, highest precedence). Maps merge key by key; lists
and scalars replace; an empty string or null does not override. See deploy/helm/README.md.
*/}}
{{- define "platform-lib.defaults" -}}
# grpc: a gRPC service (native gRPC probes, separate metrics port); http: the gateway.
server: grpc
image:
  registry: ""
  repository: ""          # e.g. passport/booking; set by each chart
  tag: ""                 # default: the chart's appVersion
  pullPolicy: IfNotPresent
imagePullSecrets: []
replicaCount: 1
ports:
  grpc: 50051
  metrics: 9100
  http: 8080
service:
  type: ClusterIP
  # gRPC services get a headless Service: clients resolve every ready pod (dns:///name:port)
  # and balance calls round-robin over them instead of pinning one HTTP/2 connection.
  headless: true
# Plain environment variables (name: value).
env: {}
# Environment variables read from Kubernetes Secrets:
#   NAME: {key: <key in the secret>, secretName: <default: secrets.name>, optional: <true: may be absent>}
secretEnv: {}
# Peers this service calls, as SERVICE_ADDR env vars and egress rules: {payment: "payment:50051"}.
peers: {}
# Workloads (app.kubernetes.io/name) allowed to call this service; the gateway takes any source.
callers: []
# MONGO_URI: key uriKey of Secret secretName. One credential per service: the key defaults to the
# chart's name (booking, payment, ...), each URI carrying that service's own database user, whose
# rights the database limits to the service's database (passport_<service>).
mongo:
  enabled: true
  secretName: passport-mongo
  uriKey: ""                  # default: the chart's name
kafka:
  enabled: true
  bootstrapServers: kafka:9092
  # The settings of the topics the passport-platform chart's hook Job creates (and of any a service
  # creates when createTopics is on): acks=all is acknowledged once minInsyncReplicas have it.
  replicationFactor: 1
  topicPartitions: 3
  minInsyncReplicas: 1
  # false: services never create topics (KAFKA_CREATE_TOPICS=0); the hook Job made them with the
  # settings above before any pod started. true only where no such Job runs.
  createTopics: false
  # SASL/SCRAM over TLS (libs/servicekit/kafka.py, ACLs from libs/servicekit/kafka_access.py): the
  # user is the service's name; its password is key `password` of Secret credentialsSecretName, and the
  # CA of the brokers' certificates key `ca.crt` of Secret caSecretName. PLAINTEXT is refused by the
  # services outside local mode.
  securityProtocol: SASL_SSL
  saslMechanism: SCRAM-SHA-512
  username: ""                # default: the chart's name (booking, payment, ...)
  credentialsSecretName: ""   # default: <name>-kafka
  caSecretName: passport-kafka-ca
secrets:
  name: passport-secrets
# Mutual TLS on the gRPC links (libs/servicekit/tls.py): the pod's certificate in a Secret of
# cert-manager's layout (tls.crt, tls.key, ca.crt) whose common name is the service identity
# (the chart's name). Servers accept only the callers they allow, by that name.
grpcTls:
  enabled: true
  secretName: ""          # default: <name>-grpc-tls
  certManager:            # let cert-manager issue and renew it from an internal CA issuer
    enabled: false
    issuerRef:
      name: passport-internal-ca
      kind: Issuer
    duration: 2160h
    renewBefore: 360h
# The end user's identity between services (libs/servicekit/identity.py): the gateway signs it
# (signs: true) with signing.key of signingSecretName; every service verifies with <kid>.pub of
# secretName for each of keyIds (rotation: publish the new key, switch signingKeyId, drop the old).
identity:
  enabled: true
  signs: false
  secretName: passport-identity
  keyIds: [k1]
  signingSecretName: passport-identity-signing
  signingKeyId: k1
autoscaling:
  enabled: false
  minReplicas: 2
  maxReplicas: 6
  targetCPUUtilizationPercentage: 70
  targetMemoryUtilizationPercentage: 0   # 0 = CPU only
  scaleDownStabilizationSeconds: 300
pdb:
  enabled: false
  maxUnavailable: 1
  minAvailable: ""        # set to use minAvailable instead of maxUnavailable
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    cpu: "1"
    memory: 256Mi
probes:
  startup:
    periodSeconds: 2
    failureThreshold: 30
  liveness:
    onMetrics: true      # ask the metrics server, away from the request pool (false: /healthz on http)
    periodSeconds: 10
    timeoutSeconds: 2
    failureThreshold: 3
  readiness:
    periodSeconds: 5
    timeoutSeconds: 2
    failureThreshold: 2
tmp:
  sizeLimit: 64Mi
# preStop sleep (endpoints drop the pod first), then the drain; the grace must cover both
# (the template fails when it is under preStopSleepSeconds + 20 s).
preStopSleepSeconds: 5
terminationGracePeriodSeconds: 35
serviceAccount:
  create: true
  name: ""
  annotations: {}
podAnnotations: {}
podLabels: {}
nodeSelector: {}
tolerations: []
affinity: {}
topologySpread:
  enabled: true
  maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
prometheus:
  namespace: monitoring   # namespace of the Prometheus that scrapes the metrics port
  podLabels: {}           # narrows the scrape rule to these pods of that namespace
serviceMonitor:
  enabled: false          # needs the prometheus-operator CRDs
  interval: 30s
  scrapeTimeout: 10s
  labels: {}
# Alert rules are not per service: one PrometheusRule for the whole platform comes from the
# observability chart (../observability/rules), switched on by global.prometheusRule.enabled.
# The gateway's public API through an Ingress with TLS (cert-manager annotations); gateway only.
ingress:
  enabled: false
  className: ""
  host: ""                # e.g. paspor.imigrasi.example
  tlsSecretName: ""       # default: <name>-tls (cert-manager fills it)
  annotations: {}         # e.g. cert-manager.io/cluster-issuer: letsencrypt
  paths: [/v1]
networkPolicy:
  enabled: true
  # Sources allowed to reach the gateway's HTTP port; [] = any (an ingress controller, a LB).
  ingressFrom: []
  # DNS: the kube-dns pods, and link-local addresses where NodeLocal DNSCache (169.254.20.10)
  # or a cloud resolver (169.254.169.254, 169.254.169.253) answers instead.
  dns:
    to:
      - namespaceSelector:
          matchLabels:
            kubernetes.io/metadata.name: kube-system
        podSelector:
          matchLabels:
            k8s-app: kube-dns
      - ipBlock:
          cidr: 169.254.0.0/16
    ports: [53]
  # Destinations of MongoDB and Kafka traffic; [] = any address on these ports.
  mongo:
    to: []
    ports: [27017]
  kafka:
    to: []
    ports: [9092]
  extraIngress: []
  extraEgress: []
{{- end -}}
