{{/* Names, labels and the pieces every workload shares. */}}

{{- define "lms.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lms.fullname" -}}
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

{{- define "lms.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "lms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lms
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "lms.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lms.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "lms.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "lms.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lms.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the database and Redis URLs: the operator's own, or the one this chart creates. */}}
{{- define "lms.secretName" -}}
{{- default (include "lms.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "lms.stripeSecretName" -}}
{{- default (printf "%s-stripe" (include "lms.fullname" .)) .Values.stripe.existingSecret -}}
{{- end -}}

{{- define "lms.hasStripe" -}}
{{- if or .Values.stripe.existingSecret .Values.stripe.env }}true{{ end -}}
{{- end -}}

{{/* Pods roll when the settings the chart renders change. */}}
{{- define "lms.configChecksum" -}}
{{- include (print .Template.BasePath "/configmap.yaml") . | sha256sum -}}
{{- end -}}

{{- define "lms.secretChecksum" -}}
{{- include (print .Template.BasePath "/secret.yaml") . | sha256sum -}}
{{- end -}}

{{/*
Secret-held settings of the API and the worker. DATABASE_URL comes from database.workloadUrlKey:
these processes never migrate, they only need the role URLs.
*/}}
{{- define "lms.secretEnv" -}}
{{- $secret := include "lms.secretName" . -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .Values.database.workloadUrlKey }}
- name: DATABASE_APP_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: DATABASE_APP_URL
      optional: true
- name: DATABASE_OPERATOR_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: DATABASE_OPERATOR_URL
      optional: true
- name: DATABASE_ROLE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: DATABASE_ROLE_PASSWORD
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: REDIS_URL
{{- end -}}

{{/* ConfigMap, Stripe Secret and the component's extra sources: (dict "root" $ "extra" .Values.api.extraEnvFrom) */}}
{{- define "lms.envFrom" -}}
- configMapRef:
    name: {{ include "lms.fullname" .root }}
{{- if include "lms.hasStripe" .root }}
- secretRef:
    name: {{ include "lms.stripeSecretName" .root }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Writable scratch space on a read-only root filesystem: LMS_DATA_DIR and /tmp. */}}
{{- define "lms.scratchVolumeMounts" -}}
- name: data
  mountPath: /var/lib/lms
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "lms.scratchVolumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "lms.podPlacement" -}}
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
{{- end -}}

{{/* Host names are lower-case DNS names; a TLS Secret name per custom domain. */}}
{{- define "lms.domainSecretName" -}}
{{- printf "%s-%s-tls" (include "lms.fullname" .root) (.host | lower | replace "." "-") | trunc 253 -}}
{{- end -}}

{{/* cert-manager annotation for an issuer: (dict "kind" "ClusterIssuer" "name" "letsencrypt") */}}
{{- define "lms.issuerAnnotation" -}}
{{- if .name -}}
{{- if eq (default "ClusterIssuer" .kind) "ClusterIssuer" -}}
cert-manager.io/cluster-issuer: {{ .name | quote }}
{{- else -}}
cert-manager.io/issuer: {{ .name | quote }}
{{- end -}}
{{- end -}}
{{- end -}}
