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

{{- define "evidence-agent.volumeMounts" -}}
- name: config
  mountPath: /etc/evidence-agent
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if eq .Values.database.type "sqlite" }}
- name: data
  mountPath: {{ include "evidence-agent.dataDir" . }}
{{- end }}
{{- range $i, $f := .Values.secretFiles }}
- name: secret-{{ $i }}
  mountPath: {{ $f.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "evidence-agent.volumes" -}}
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
{{- range $i, $f := .Values.secretFiles }}
- name: secret-{{ $i }}
  secret:
    secretName: {{ $f.secretName }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/* Scheduling and pod-wide settings shared by every pod of the chart. */}}
{{- define "evidence-agent.podCommon" -}}
serviceAccountName: {{ include "evidence-agent.serviceAccountName" . }}
automountServiceAccountToken: {{ include "evidence-agent.inCluster" . | empty | not }}
enableServiceLinks: false
securityContext:
  {{- include "evidence-agent.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
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
  checksum/config: {{ toYaml .root.Values.config | sha256sum }}
  {{- with .root.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
