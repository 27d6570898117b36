{{/* Names ------------------------------------------------------------------------------------------ */}}
{{- define "convstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "convstream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<suffix>", at most 63 characters. */}}
{{- define "convstream.component" -}}
{{- printf "%s-%s" (include "convstream.fullname" .root | trunc (int (sub 62 (len .name)))) .name | trimSuffix "-" -}}
{{- end -}}

{{- define "convstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "convstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "convstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "convstream.labels" -}}
helm.sh/chart: {{ include "convstream.chart" .root }}
{{ include "convstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: convstream
{{- end -}}

{{- define "convstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "convstream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "convstream.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Settings ---------------------------------------------------------------------------------------- */}}

{{/* A value as an env string: whole numbers without exponent (YAML numbers arrive as float64), lists and
     maps as JSON. */}}
{{- define "convstream.envValue" -}}
{{- $v := . -}}
{{- if or (kindIs "slice" $v) (kindIs "map" $v) -}}
{{- toJson $v -}}
{{- else if and (kindIs "float64" $v) (eq $v (floor $v)) -}}
{{- $v | int64 | toString -}}
{{- else -}}
{{- $v | toString -}}
{{- end -}}
{{- end -}}

{{/* Settings from .Values.config: {"kafka": {"bootstrap_servers": …}} -> CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS.
     Maps recurse, except the dict-valued setting kafka.extra (JSON). .format: "data" (ConfigMap data lines)
     or "env" (container env entries; the migrate hook runs before the ConfigMap exists). */}}
{{- define "convstream.configData" -}}
{{- $prefix := .prefix | default "CONVSTREAM_" -}}
{{- $format := .format | default "data" -}}
{{- range $key, $value := .values -}}
{{- $name := printf "%s%s" $prefix (upper $key) -}}
{{- if and (kindIs "map" $value) (ne $name "CONVSTREAM_KAFKA__EXTRA") -}}
{{- include "convstream.configData" (dict "prefix" (printf "%s__" $name) "values" $value "format" $format) -}}
{{- else if not (kindIs "invalid" $value) -}}
{{- if eq $format "env" }}
- name: {{ $name }}
  value: {{ include "convstream.envValue" $value | quote }}
{{- else }}
{{ $name }}: {{ include "convstream.envValue" $value | quote }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Secrets ----------------------------------------------------------------------------------------- */}}

{{/* Secret entry name -> setting env name. */}}
{{- define "convstream.secretEnv" -}}
{{- $map := dict
  "postgresDsn" "CONVSTREAM_POSTGRES__DSN"
  "postgresMigrationDsn" "CONVSTREAM_POSTGRES__MIGRATION_DSN"
  "kafkaSaslPassword" "CONVSTREAM_KAFKA__SASL_PASSWORD"
  "kafkaSslKeyPassword" "CONVSTREAM_KAFKA__SSL_KEY_PASSWORD"
  "schemaRegistryPassword" "CONVSTREAM_SCHEMA_REGISTRY__BASIC_AUTH_PASSWORD"
  "genesysClientSecret" "CONVSTREAM_GENESYS__CLIENT_SECRET"
  "piiHashKey" "CONVSTREAM_GENESYS__PII__HASH_KEY" -}}
{{- get $map . -}}
{{- end -}}

{{/* Which secret entries a workload gets. The migration (DDL) DSN reaches the migrate hook and rebuild
     Jobs only, never a long-running pod. */}}
{{- define "convstream.secretsFor" -}}
{{- if eq . "migrate" -}}postgresDsn,postgresMigrationDsn
{{- else if eq . "consumer" -}}postgresDsn,kafkaSaslPassword,kafkaSslKeyPassword,schemaRegistryPassword
{{- else if eq . "bridge" -}}kafkaSaslPassword,kafkaSslKeyPassword,schemaRegistryPassword,genesysClientSecret,piiHashKey
{{- else if eq . "replay" -}}postgresDsn,kafkaSaslPassword,kafkaSslKeyPassword
{{- else if eq . "rebuild" -}}postgresDsn,postgresMigrationDsn,kafkaSaslPassword,kafkaSslKeyPassword,schemaRegistryPassword
{{- else if eq . "job-genesys" -}}postgresDsn,kafkaSaslPassword,kafkaSslKeyPassword,schemaRegistryPassword,genesysClientSecret,piiHashKey
{{- else -}}{{ fail (printf "convstream.secretsFor: unknown workload %q" .) }}
{{- end -}}
{{- end -}}

{{/* The chart's own Secret holds the entries with a value and no existingSecret. */}}
{{- define "convstream.chartSecretData" -}}
{{- range $entry, $s := .Values.secrets -}}
{{- if and $s.value (not $s.existingSecret) }}
{{ $s.key }}: {{ $s.value | b64enc | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Volumes, mounts and *_FILE env of the secret entries a workload gets (.what: volumes|mounts|env).
     Each wired entry is one projected file /var/run/secrets/convstream/<entry>. */}}
{{- define "convstream.secretWiring" -}}
{{- $root := .root -}}
{{- $wired := list -}}
{{- range $entry := splitList "," (include "convstream.secretsFor" .workload) -}}
{{- $s := get $root.Values.secrets $entry -}}
{{- if or $s.existingSecret $s.value -}}{{- $wired = append $wired $entry -}}{{- end -}}
{{- end -}}
{{- if $wired -}}
{{- if eq .what "volumes" }}
- name: convstream-secrets
  projected:
    defaultMode: 0440
    sources:
    {{- range $entry := $wired }}
    {{- $s := get $root.Values.secrets $entry }}
    - secret:
        name: {{ default (printf "%s%s" (include "convstream.fullname" $root) (ternary "-migrate" "" (and (eq $.workload "migrate") $root.Values.migrate.hook))) $s.existingSecret }}
        items: [{key: {{ $s.key | quote }}, path: {{ $entry }}}]
    {{- end }}
{{- else if eq .what "mounts" }}
- name: convstream-secrets
  mountPath: /var/run/secrets/convstream
  readOnly: true
{{- else if eq .what "env" }}
{{- range $entry := $wired }}
- name: {{ include "convstream.secretEnv" $entry }}_FILE
  value: /var/run/secrets/convstream/{{ $entry }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Pod pieces ------------------------------------------------------------------------------------- */}}

{{- define "convstream.podSecurity" -}}
serviceAccountName: {{ include "convstream.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Volumes every pod has: /tmp (read-only root FS), secrets, certificates, extras. */}}
{{- define "convstream.volumes" -}}
volumes:
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- include "convstream.secretWiring" (dict "root" .root "workload" .workload "what" "volumes") }}
{{- range $i, $t := .root.Values.tlsSecrets }}
- name: tls-{{ $i }}
  secret:
    secretName: {{ $t.secretName }}
    defaultMode: 0440
{{- end }}
{{- with .root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "convstream.volumeMounts" -}}
volumeMounts:
- name: tmp
  mountPath: /tmp
{{- include "convstream.secretWiring" (dict "root" .root "workload" .workload "what" "mounts") }}
{{- range $i, $t := .root.Values.tlsSecrets }}
- name: tls-{{ $i }}
  mountPath: {{ $t.mountPath }}
  readOnly: true
{{- end }}
{{- with .root.Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The container's env: secret files, inline settings (.inline, rendered lines), then user extras. */}}
{{- define "convstream.env" -}}
{{- $env := include "convstream.secretWiring" (dict "root" .root "workload" .workload "what" "env") -}}
{{- $inline := .inline | default "" -}}
{{- if or $env $inline .extra }}
env:
{{- $env }}
{{- $inline }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* envFrom: the settings ConfigMap, plus the genesys one for the bridge and Genesys jobs. */}}
{{- define "convstream.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "convstream.fullname" .root }}
{{- if .genesys }}
  - configMapRef:
      name: {{ include "convstream.component" (dict "root" .root "name" "genesys") }}
{{- end }}
{{- end -}}

{{/* Checksums so a config or secret change rolls the pods. */}}
{{- define "convstream.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* terminationGracePeriodSeconds of the consumer: SIGTERM lets the in-flight batch finish and commit for up
     to shutdown_grace_seconds; a statement already running when that runs out is bounded by the server-side
     statement_timeout_seconds (60 s when 0 = none); plus 15 s for the Kafka offset mirror, the DLQ flush and
     leaving the group. Defaults: 25 + 60 + 15 = 100. */}}
{{- define "convstream.consumerGrace" -}}
{{- if not (kindIs "invalid" .Values.consumer.terminationGracePeriodSeconds) -}}
{{- .Values.consumer.terminationGracePeriodSeconds | int -}}
{{- else -}}
{{- $c := default dict .Values.config.consumer -}}
{{- $p := default dict .Values.config.postgres -}}
{{- $grace := get $c "shutdown_grace_seconds" | default 25.0 | float64 -}}
{{- $stmt := get $p "statement_timeout_seconds" | default 60.0 | float64 -}}
{{- if eq $stmt 0.0 }}{{ $stmt = 60.0 }}{{ end -}}
{{- addf $grace $stmt 15 | ceil | int -}}
{{- end -}}
{{- end -}}

{{- define "convstream.groupId" -}}
{{- $c := default dict .Values.config.consumer -}}
{{- get $c "group_id" | default "convstream" -}}
{{- end -}}

{{- define "convstream.eventsTopic" -}}
{{- $t := default dict .Values.config.topics -}}
{{- get $t "events" | default "genesys.conversation.events" -}}
{{- end -}}

{{/* Autoscaling upper bound: min(maxReplicas, partitions). */}}
{{- define "convstream.maxReplicas" -}}
{{- $t := default dict .root.Values.config.topics -}}
{{- $partitions := .scaler.partitions | default (get $t "partitions") | default 12 | int -}}
{{- min (.scaler.maxReplicas | int) $partitions -}}
{{- end -}}

{{- define "convstream.consumerKind" -}}
{{- .Values.consumer.kind -}}
{{- end -}}

{{/* "true" when the bridge runs until stopped (a Deployment): the genesys source, or the simulator in real time
     (`--realtime` in bridge.extraArgs); "" for a finite simulator run (a Job). */}}
{{- define "convstream.bridgeLongRunning" -}}
{{- $b := .Values.bridge -}}
{{- if or (eq $b.source "genesys") (and (eq $b.source "simulator") (has "--realtime" $b.extraArgs)) -}}true{{- end -}}
{{- end -}}
