{{/* Names, labels, hosts and secret references shared by the templates. */}}

{{- define "mlops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mlops.fullname" -}}
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

{{/* Labels of every object; call with (dict "ctx" $ "component" "catalog"). */}}
{{- define "mlops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: jupyter-mlops
{{ include "mlops.selectorLabels" . }}
{{- end -}}

{{- define "mlops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlops.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mlops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "mlops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mlops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mlops.catalogHost" -}}
{{- default (printf "sharinghub.%s" .Values.domain) .Values.ingress.hosts.catalog -}}
{{- end -}}

{{- define "mlops.mlflowHost" -}}
{{- default (printf "mlflow.%s" .Values.domain) .Values.ingress.hosts.mlflow -}}
{{- end -}}

{{- define "mlops.gitlabUrl" -}}
{{- default (printf "https://gitlab.%s" .Values.domain) .Values.catalog.gitlabUrl | trimSuffix "/" -}}
{{- end -}}

{{- define "mlops.catalogService" -}}
{{- printf "%s-catalog" (include "mlops.fullname" .) -}}
{{- end -}}

{{- define "mlops.mlflowService" -}}
{{- printf "%s-mlflow" (include "mlops.fullname" .) -}}
{{- end -}}

{{/* Name of a Secret: its existingSecret, else the conventional <fullname>-<suffix>.
     Call with (dict "ctx" $ "existing" .Values.x.existingSecret "suffix" "x"). */}}
{{- define "mlops.secretName" -}}
{{- default (printf "%s-%s" (include "mlops.fullname" .ctx) .suffix) .existing -}}
{{- end -}}

{{- define "mlops.postgresHost" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-postgresql" (include "mlops.fullname" .) -}}
{{- else -}}
{{- required "postgresql.external.host is required when postgresql.enabled is false" .Values.postgresql.external.host -}}
{{- end -}}
{{- end -}}

{{- define "mlops.postgresPort" -}}
{{- if .Values.postgresql.enabled -}}5432{{- else -}}{{ .Values.postgresql.external.port }}{{- end -}}
{{- end -}}

{{/* SQLAlchemy URL without a password: libpq reads it from PGPASSWORD (never in argv). */}}
{{- define "mlops.databaseUrl" -}}
{{- printf "postgresql+psycopg://%s@%s:%s/%s" .ctx.Values.postgresql.username (include "mlops.postgresHost" .ctx) (include "mlops.postgresPort" .ctx) .database -}}
{{- end -}}

{{/* The PGPASSWORD env entry of the application user. */}}
{{- define "mlops.pgPasswordEnv" -}}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "mlops.secretName" (dict "ctx" . "existing" .Values.postgresql.existingSecret "suffix" "postgresql") }}
      key: {{ .Values.postgresql.passwordKey }}
{{- end -}}

{{/* Writable scratch space for a read-only root filesystem. */}}
{{- define "mlops.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}

{{- define "mlops.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "mlops.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}
