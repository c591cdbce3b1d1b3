{{/* Overlay $src onto $dst in place: maps merge key by key, anything else replaces;
     null and "" in $src leave $dst as it is. */}}
{{- define "platform-lib.mergeInto" -}}
{{- $dst := index . 0 -}}
{{- $src := index . 1 -}}
{{- range $k, $v := $src -}}
{{- if or (kindIs "invalid" $v) (and (kindIs "string" $v) (eq $v "")) -}}
{{- else if and (kindIs "map" $v) (kindIs "map" (get $dst $k)) -}}
{{- include "platform-lib.mergeInto" (list (get $dst $k) $v) -}}
{{- else -}}
{{- $_ := set $dst $k (deepCopy $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The effective configuration as YAML: defaults < .Values.global < the chart's own values.
     Use: {{- $c := include "platform-lib.config" . | fromYaml }} */}}
{{- define "platform-lib.config" -}}
{{- $c := include "platform-lib.defaults" . | fromYaml -}}
{{- include "platform-lib.mergeInto" (list $c (.Values.global | default dict)) -}}
{{- include "platform-lib.mergeInto" (list $c (omit .Values "global" "enabled")) -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The name of the workload: also its Service's DNS name, so peers reach it as <name>:<port>
     whatever the release is called (one platform per namespace). */}}
{{- define "platform-lib.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "platform-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "platform-lib.labels" -}}
{{ include "platform-lib.selectorLabels" . }}
app.kubernetes.io/part-of: passport-platform
app.kubernetes.io/component: {{ ternary "gateway" "service" (eq (include "platform-lib.config" . | fromYaml).server "http") }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "platform-lib.serviceAccountName" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- if $c.serviceAccount.create -}}
{{- $c.serviceAccount.name | default (include "platform-lib.name" .) -}}
{{- else -}}
{{- $c.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "platform-lib.image" -}}
{{- $c := include "platform-lib.config" . | fromYaml -}}
{{- $repo := required "image.repository is required" $c.image.repository -}}
{{- $tag := $c.image.tag | default .Chart.AppVersion | toString -}}
{{- if $c.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $c.image.registry) $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* The port Prometheus scrapes: the metrics port of a gRPC service, the HTTP port of the gateway. */}}
{{- define "platform-lib.metricsPortName" -}}
metrics
{{- end -}}

{{/* Every resource of a service; the kinds that are switched off leave no empty document. */}}
{{- define "platform-lib.all" -}}
{{- range $kind := list "serviceaccount" "service" "deployment" "hpa" "pdb" "networkpolicy" "servicemonitor" "ingress" "certificate" }}
{{- with include (printf "platform-lib.%s" $kind) $ | trim }}
---
{{ . }}
{{- end }}
{{- end }}
{{- end -}}
