{{/* Names and labels. */}}
{{- define "evidence-agent.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; at most 52 characters, as a CronJob name must leave room for its Jobs' suffix. */}}
{{- define "evidence-agent.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "evidence-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "evidence-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "evidence-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "evidence-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "evidence-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "evidence-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The portal's ServiceAccount: its own, not the agent's with its cloud identity (the portal reads only the store). */}}
{{- define "evidence-agent.portalServiceAccountName" -}}
{{- if .Values.portal.serviceAccount.create }}
{{- default (printf "%s-portal" (include "evidence-agent.fullname" .)) .Values.portal.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.portal.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "evidence-agent.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when a target reads this cluster with the pod's own ServiceAccount (it then needs RBAC and a token). */}}
{{- define "evidence-agent.inCluster" -}}
{{- range .Values.config.targets }}
{{- if and (eq .provider "kubernetes") .in_cluster }}true{{ end }}
{{- end }}
{{- end }}

{{/* Paths inside the pod. */}}
{{- define "evidence-agent.configPath" -}}/etc/evidence-agent/evidence-agent.yaml{{- end }}
{{- define "evidence-agent.dataDir" -}}/var/lib/evidence-agent{{- end }}
{{- define "evidence-agent.heartbeatFile" -}}/tmp/evidence-agent/heartbeat{{- end }}
{{/* Not under /etc/evidence-agent: a mount point inside the ConfigMap's read-only volume cannot be created. */}}
{{- define "evidence-agent.portalTokensDir" -}}/var/run/secrets/evidence-agent/portal{{- end }}
{{- define "evidence-agent.portalTokensFile" -}}{{ include "evidence-agent.portalTokensDir" . }}/tokens.yaml{{- end }}
{{/* A sibling of the tokens' directory, not inside it: each Secret volume is its own read-only mount. */}}
{{- define "evidence-agent.portalSignKeyDir" -}}/var/run/secrets/evidence-agent/portal-signer{{- end }}
{{- define "evidence-agent.portalSignKeyFile" -}}{{ include "evidence-agent.portalSignKeyDir" . }}/signer.key{{- end }}
{{- define "evidence-agent.portalPort" -}}8080{{- end }}

{{/* "true" when the portal signs the bundles it serves with the key of portal.signKeySecret. */}}
{{- define "evidence-agent.portalSigns" -}}
{{- if and .Values.portal.enabled .Values.portal.signKeySecret }}true{{ end }}
{{- end }}

{{/*
evidence-agent.yaml as mounted: `config`, plus portal.tokens_file when the portal is on, and
portal.sign_key_file when it signs downloads. The agent's pods mount the same file but only
`serve` reads these two files (collect and schedule leave `portal:` alone; the key is mounted
into the portal's pods only).
*/}}
{{- define "evidence-agent.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if .Values.portal.enabled }}
{{- $portal := get $config "portal" | default dict }}
{{- $_ := set $portal "tokens_file" (include "evidence-agent.portalTokensFile" .) }}
{{- if include "evidence-agent.portalSigns" . }}
{{- $_ := set $portal "sign_key_file" (include "evidence-agent.portalSignKeyFile" .) }}
{{- end }}
{{- $_ := set $config "portal" $portal }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
"true" when the agent's pods and the portal share a ReadWriteOnce SQLite claim, which one node at a
time can mount: they are then kept on the portal's node (evidence-agent.affinity).
*/}}
{{- define "evidence-agent.portalSameNode" -}}
{{- if and .Values.portal.enabled (eq .Values.database.type "sqlite") .Values.portal.sqliteSameNode }}true{{ end }}
{{- end }}

{{/*
Checks the values schema cannot express; each fails the render with one line naming the value.
*/}}
{{- define "evidence-agent.validate" -}}
{{- if hasKey .Values.config "database_url" }}
{{- fail "config.database_url: set the database with `database` (sqlite, or postgresql.urlSecret): a URL in the ConfigMap would expose its password" }}
{{- end }}
{{- if and (gt (int .Values.shards) 1) (ne .Values.mode "cronjob") }}
{{- fail "shards: sharding applies to mode: cronjob (an Indexed Job per run); the scheduler runs as one replica" }}
{{- end }}
{{- if and (gt (int .Values.shards) 1) (ne .Values.database.type "postgresql") }}
{{- fail "shards: more than one shard needs database.type: postgresql (SQLite has a single writer)" }}
{{- end }}
{{- if and (eq .Values.database.type "postgresql") (not .Values.database.postgresql.urlSecret.name) }}
{{- fail "database.postgresql.urlSecret.name: name the Secret holding the PostgreSQL URL" }}
{{- end }}
{{- if .Values.portal.enabled }}
{{- if not .Values.portal.tokensSecret }}
{{- fail "portal.tokensSecret: name the Secret whose key tokens.yaml holds the portal's token hashes (docs/deploy.md, Portal)" }}
{{- end }}
{{- if and (kindIs "map" .Values.config.portal) (hasKey .Values.config.portal "tokens_file") }}
{{- fail "config.portal.tokens_file: set by the chart (the file of portal.tokensSecret); leave it out of config" }}
{{- end }}
{{- if and (kindIs "map" .Values.config.portal) (hasKey .Values.config.portal "sign_key_file") }}
{{- fail "config.portal.sign_key_file: set by the chart (the file of portal.signKeySecret); leave it out of config and name the key's Secret in portal.signKeySecret" }}
{{- end }}
{{- if and (eq .Values.database.type "sqlite") (not .Values.database.sqlite.existingClaim) (has "ReadWriteOncePod" .Values.database.sqlite.accessModes) }}
{{- fail "database.sqlite.accessModes: ReadWriteOncePod lets one pod mount the claim, but the portal and the agent both need it (use ReadWriteOnce, or PostgreSQL)" }}
{{- end }}
{{- if and .Values.portal.ingress.enabled (not .Values.portal.ingress.hosts) }}
{{- fail "portal.ingress.hosts: name at least one host for the portal's Ingress" }}
{{- end }}
{{- end }}
{{- $static := list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" "AWS_SESSION_TOKEN" "AWS_SHARED_CREDENTIALS_FILE" }}
{{- range concat .Values.extraEnv .Values.secretEnv }}
{{- if has .name $static }}
{{- fail (printf "%s: static cloud keys are refused; give the ServiceAccount a cloud identity (serviceAccount.annotations: IRSA or GKE Workload Identity)" .name) }}
{{- end }}
{{- if hasPrefix "EVIDENCE_AGENT_" .name }}
{{- fail (printf "%s: set by the chart (config, database, log format); use the matching value instead" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level security: restricted Pod Security Standard. */}}
{{- define "evidence-agent.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security: the same for every container the chart renders. */}}
{{- define "evidence-agent.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The database URL: a file on the claim, or a Secret reference. */}}
{{- define "evidence-agent.databaseEnv" -}}
- name: EVIDENCE_AGENT_DATABASE_URL
{{- if eq .Values.database.type "postgresql" }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.postgresql.urlSecret.name }}
      key: {{ .Values.database.postgresql.urlSecret.key }}
{{- else }}
  value: {{ printf "sqlite:///%s/evidence.db" (include "evidence-agent.dataDir" .) | quote }}
{{- end }}
{{- end }}

{{/* Environment of the agent's containers. */}}
{{- define "evidence-agent.env" -}}
- name: EVIDENCE_AGENT_CONFIG
  value: {{ include "evidence-agent.configPath" . | quote }}
- name: EVIDENCE_AGENT_LOG_FORMAT
  value: json
{{ include "evidence-agent.databaseEnv" . }}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
      {{- if hasKey . "optional" }}
      optional: {{ .optional }}
      {{- end }}
{{- end }}
{{- range .Values.extraEnv }}
- name: {{ .name }}
  value: {{ .value | quote }}
{{- end }}
{{- end }}

{{/* The config, /tmp and (SQLite) the store's claim: what every long-lived container of the chart mounts. */}}
{{- define "evidence-agent.storeVolumeMounts" -}}
- name: config
  mountPath: /etc/evidence-agent
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if eq .Values.database.type "sqlite" }}
- name: data
  mountPath: {{ include "evidence-agent.dataDir" . }}
{{- end }}
{{- end }}

{{- define "evidence-agent.storeVolumes" -}}
- name: config
  configMap:
    name: {{ include "evidence-agent.fullname" . }}-config
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- if eq .Values.database.type "sqlite" }}
- name: data
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-data" (include "evidence-agent.fullname" .)) .Values.database.sqlite.existingClaim }}
{{- end }}
{{- end }}

{{/* The agent's mounts: the store's, plus the Secrets of secretFiles. */}}
{{- define "evidence-agent.volumeMounts" -}}
{{ include "evidence-agent.storeVolumeMounts" . }}
{{- range $i, $f := .Values.secretFiles }}
- name: secret-{{ $i }}
  mountPath: {{ $f.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "evidence-agent.volumes" -}}
{{ include "evidence-agent.storeVolumes" . }}
{{- range $i, $f := .Values.secretFiles }}
- name: secret-{{ $i }}
  secret:
    secretName: {{ $f.secretName }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/*
The pods' affinity: the `affinity` value, plus, when the portal shares a ReadWriteOnce SQLite claim
with the agent, a required podAffinity to the portal's pods on the same node (the portal is the
long-running pod the others follow; its own replicas follow the first one).
*/}}
{{- define "evidence-agent.affinity" -}}
{{- $root := . }}
{{- $affinity := deepCopy $root.Values.affinity }}
{{- if include "evidence-agent.portalSameNode" $root }}
{{- $selector := dict "matchLabels" (dict "app.kubernetes.io/name" (include "evidence-agent.name" $root) "app.kubernetes.io/instance" $root.Release.Name "app.kubernetes.io/component" "portal") }}
{{- $term := dict "labelSelector" $selector "topologyKey" "kubernetes.io/hostname" }}
{{- $podAffinity := get $affinity "podAffinity" | default dict }}
{{- $required := get $podAffinity "requiredDuringSchedulingIgnoredDuringExecution" | default list }}
{{- $_ := set $podAffinity "requiredDuringSchedulingIgnoredDuringExecution" (append $required $term) }}
{{- $_ := set $affinity "podAffinity" $podAffinity }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Scheduling and pod-wide settings shared by every pod of the chart; called with (dict "root" . "component" NAME).
The portal runs as its own ServiceAccount and never mounts a Kubernetes API token.
*/}}
{{- define "evidence-agent.podCommon" -}}
{{- $root := .root -}}
{{ if eq .component "portal" -}}
serviceAccountName: {{ include "evidence-agent.portalServiceAccountName" $root }}
automountServiceAccountToken: false
{{- else -}}
serviceAccountName: {{ include "evidence-agent.serviceAccountName" $root }}
automountServiceAccountToken: {{ include "evidence-agent.inCluster" $root | empty | not }}
{{- end }}
enableServiceLinks: false
securityContext:
  {{- include "evidence-agent.podSecurityContext" $root | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- include "evidence-agent.affinity" $root }}
{{- end }}

{{/* Pod template metadata: labels for selection and NetworkPolicy, the config's checksum. */}}
{{- define "evidence-agent.podMetadata" -}}
labels:
  {{- include "evidence-agent.labels" .root | nindent 2 }}
  app.kubernetes.io/component: {{ .component }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include "evidence-agent.config" .root | sha256sum }}
  {{- with .root.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
