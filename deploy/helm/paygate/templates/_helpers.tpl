{{- define "paygate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "paygate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "paygate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "paygate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "paygate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paygate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "paygate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "paygate.sandboxURL" -}}
http://{{ include "paygate.fullname" . }}-sandbox:{{ .Values.sandbox.port }}
{{- end -}}

{{- define "paygate.existingSecret" -}}
{{- required "existingSecret: name a Secret holding PAYGATE_DATABASE_URL, PAYGATE_ENCRYPTION_KEYS, PAYGATE_FINGERPRINT_KEY, PAYGATE_ADMIN_TOKEN (and PAYGATE_SANDBOX_TOKEN with the sandbox)" .Values.existingSecret -}}
{{- end -}}

{{/* The one key of the Secret the sandbox pod may see; the API pods name it
too, so that a Secret without it stops them starting rather than leaving the
sandbox open or its calls refused. */}}
{{- define "paygate.sandboxTokenEnv" -}}
- name: PAYGATE_SANDBOX_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "paygate.existingSecret" . }}
      key: PAYGATE_SANDBOX_TOKEN
{{- end -}}

{{- define "paygate.apiSelectorLabels" -}}
{{ include "paygate.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "paygate.sandboxSelectorLabels" -}}
{{ include "paygate.selectorLabels" . }}
app.kubernetes.io/component: sandbox
{{- end -}}

{{/* Pod-level security: the image's nonroot user, no service account token. */}}
{{- define "paygate.podSecurity" -}}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "paygate.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  privileged: false
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{/* Environment shared by the server and the migration job. The job serves
nothing, but it loads the same configuration, so it gets the same settings. */}}
{{- define "paygate.env" -}}
- name: PAYGATE_ENV
  value: {{ .Values.config.env | quote }}
- name: PAYGATE_ADDR
  value: "0.0.0.0:8080"
- name: PAYGATE_AUTO_MIGRATE
  value: "false"
- name: PAYGATE_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: PAYGATE_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
{{- with .Values.config.publicURL }}
- name: PAYGATE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
- name: PAYGATE_METRICS_ADDR
  value: "0.0.0.0:{{ required "metrics.port is required" .Values.metrics.port }}"
{{- with .Values.config.trustedProxies }}
- name: PAYGATE_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
{{- if .Values.sandbox.enabled }}
- name: PAYGATE_SANDBOX_URL
  value: {{ include "paygate.sandboxURL" . | quote }}
{{ include "paygate.sandboxTokenEnv" . }}
{{- end }}
{{- range $name, $value := .Values.config.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
