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

{{/* Environment shared by the server and the migration job. */}}
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
{{- if .Values.sandbox.enabled }}
- name: PAYGATE_SANDBOX_URL
  value: {{ include "paygate.sandboxURL" . | quote }}
{{- end }}
{{- range $name, $value := .Values.config.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
