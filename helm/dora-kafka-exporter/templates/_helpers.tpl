{{/* Names and labels. */}}
{{- define "dora-kafka-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dora-kafka-exporter.fullname" -}}
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

{{- define "dora-kafka-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dora-kafka-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dora-kafka-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dora-kafka-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end -}}

{{- define "dora-kafka-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dora-kafka-exporter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dora-kafka-exporter.sidecar" -}}
{{- if eq .Values.mode "sidecar" -}}true{{- end -}}
{{- end -}}

{{/* Sharded standalone mode: a StatefulSet of sharding.replicas pods, each its own shard
     (docs/deployment.md, "Sharding"). */}}
{{- define "dora-kafka-exporter.sharded" -}}
{{- if and (not (include "dora-kafka-exporter.sidecar" .)) (gt (int .Values.sharding.replicas) 1) -}}true{{- end -}}
{{- end -}}

{{/* The sidecar comes from the Kyverno ClusterPolicy (Strimzi broker pods). */}}
{{- define "dora-kafka-exporter.kyverno" -}}
{{- if and (include "dora-kafka-exporter.sidecar" .) (eq (default "patch" .Values.sidecar.inject) "kyverno") -}}true{{- end -}}
{{- end -}}

{{/* The labels Strimzi gives broker pods of one cluster (node pools with the broker role). */}}
{{- define "dora-kafka-exporter.strimziBrokerLabels" -}}
strimzi.io/kind: Kafka
strimzi.io/cluster: {{ required "sidecar.kyverno.strimziCluster is required with sidecar.inject: kyverno (the strimzi.io/cluster label of the broker pods)" .Values.sidecar.kyverno.strimziCluster | quote }}
strimzi.io/broker-role: "true"
{{- end -}}

{{/* Labels of the broker pods: sidecar.brokerPodSelector, else with Kyverno the Strimzi broker labels. */}}
{{- define "dora-kafka-exporter.brokerPodSelector" -}}
{{- if .Values.sidecar.brokerPodSelector -}}
{{- toYaml .Values.sidecar.brokerPodSelector -}}
{{- else if include "dora-kafka-exporter.kyverno" . -}}
{{- include "dora-kafka-exporter.strimziBrokerLabels" . -}}
{{- end -}}
{{- end -}}

{{/* Port names: a sidecar shares the broker pod, so its names are prefixed. */}}
{{- define "dora-kafka-exporter.metricsPortName" -}}
{{- if include "dora-kafka-exporter.sidecar" . -}}dora-metrics{{- else -}}metrics{{- end -}}
{{- end -}}
{{- define "dora-kafka-exporter.healthPortName" -}}
{{- if include "dora-kafka-exporter.sidecar" . -}}dora-health{{- else -}}health{{- end -}}
{{- end -}}

{{/* A web config file is used (TLS, basic auth, headers or an existing one). */}}
{{- define "dora-kafka-exporter.webConfig" -}}
{{- if or .Values.web.existingConfigSecret .Values.web.tls.enabled .Values.web.basicAuthUsers .Values.web.headers -}}true{{- end -}}
{{- end -}}

{{/* /metrics needs TLS or credentials: probes go to the plain health listener. */}}
{{- define "dora-kafka-exporter.healthListener" -}}
{{- if or .Values.web.existingConfigSecret .Values.web.tls.enabled .Values.web.basicAuthUsers -}}true{{- end -}}
{{- end -}}

{{/* The broker pod shares one process namespace (sidecar.shareProcessNamespace, or
     sidecar.kyverno.shareProcessNamespace on the Kyverno route): the sidecar sees the broker's process. */}}
{{- define "dora-kafka-exporter.shareProcessNamespace" -}}
{{- if include "dora-kafka-exporter.kyverno" . -}}
{{- if .Values.sidecar.kyverno.shareProcessNamespace -}}true{{- end -}}
{{- else if .Values.sidecar.shareProcessNamespace -}}true{{- end -}}
{{- end -}}

{{- define "dora-kafka-exporter.enabledByMode" -}}
{{- if kindIs "bool" .value -}}{{- if .value -}}true{{- end -}}
{{- else if ne .mode "sidecar" -}}true{{- end -}}
{{- end -}}

{{/* ICT incident events are on: the spool needs its volume. */}}
{{- define "dora-kafka-exporter.incidents" -}}
{{- if and .Values.incidents (get .Values.incidents "enabled") -}}true{{- end -}}
{{- end -}}
{{- define "dora-kafka-exporter.spoolPath" -}}/var/lib/dora-kafka-exporter/incidents{{- end -}}
{{- define "dora-kafka-exporter.spoolClaim" -}}
{{- default (printf "%s-incident-spool" (include "dora-kafka-exporter.fullname" .)) .Values.incidentSpool.persistence.existingClaim -}}
{{- end -}}

{{/* The exporter's config file (config/exporter.yaml format). */}}
{{- define "dora-kafka-exporter.config" -}}
{{- $sidecar := include "dora-kafka-exporter.sidecar" . -}}
{{- $props := deepCopy (default dict .Values.kafka.properties) -}}
{{- $tls := .Values.kafka.tls -}}
{{- if $tls.secretName -}}
{{- if $tls.caKey -}}{{- $_ := set $props "ssl.ca.location" (printf "/etc/dora-kafka-exporter/kafka-tls/%s" $tls.caKey) -}}{{- end -}}
{{- if $tls.certKey -}}{{- $_ := set $props "ssl.certificate.location" (printf "/etc/dora-kafka-exporter/kafka-tls/%s" $tls.certKey) -}}{{- end -}}
{{- if $tls.keyKey -}}{{- $_ := set $props "ssl.key.location" (printf "/etc/dora-kafka-exporter/kafka-tls/%s" $tls.keyKey) -}}{{- end -}}
{{- end -}}
{{- $files := dict -}}
{{- range $i, $p := .Values.kafka.secretProperties -}}
{{- $_ := set $files $p.property (printf "/etc/dora-kafka-exporter/kafka-secrets/%d/%s" $i $p.key) -}}
{{- end -}}
{{- $defaults := dict -}}
{{- if $sidecar -}}
{{- $defaults = dict "broker_stats" (dict "enabled" true) "broker_process" (dict "enabled" (eq (include "dora-kafka-exporter.shareProcessNamespace" .) "true")) -}}
{{- else -}}
{{- $defaults = dict "cluster" (dict "enabled" true) "offsets" (dict "enabled" true) "consumer_groups" (dict "enabled" true) "broker_stats" (dict "enabled" false) -}}
{{- end -}}
{{- $collectors := mergeOverwrite $defaults (deepCopy (default dict .Values.collectors)) -}}
{{- if $sidecar -}}
{{- range $c := list "cluster" "offsets" "consumer_groups" "probe" "schema_registry" "connect" -}}
{{- $cfg := deepCopy (default dict (get $collectors $c)) -}}
{{- $_ := set $cfg "enabled" false -}}
{{- $_ := set $collectors $c $cfg -}}
{{- end -}}
{{- $paths := list -}}
{{- range .Values.sidecar.logDirs -}}
{{- $paths = append $paths (default .mountPath .path) -}}
{{- end -}}
{{- $ld := deepCopy (default dict (get $collectors "log_dirs")) -}}
{{- $_ := set $ld "enabled" true -}}
{{- $_ := set $ld "paths" $paths -}}
{{- $_ := set $collectors "log_dirs" $ld -}}
{{- else -}}
{{- range $c := list "log_dirs" "broker_process" -}}
{{- $cfg := deepCopy (default dict (get $collectors $c)) -}}
{{- $_ := set $cfg "enabled" false -}}
{{- $_ := set $collectors $c $cfg -}}
{{- end -}}
{{- if .Values.kafka.expectedBrokers -}}
{{- $cl := deepCopy (default dict (get $collectors "cluster")) -}}
{{- $_ := set $cl "expected_brokers" (int .Values.kafka.expectedBrokers) -}}
{{- $_ := set $collectors "cluster" $cl -}}
{{- end -}}
{{- end -}}
{{- $kafka := dict "bootstrap_servers" (ternary .Values.kafka.sidecarBootstrapServers .Values.kafka.bootstrapServers (eq $sidecar "true")) "client_id" .Values.kafka.clientId "properties" $props "property_files" $files -}}
{{- $web := dict "listen_address" (printf ":%d" (int .Values.web.port)) "telemetry_path" "/metrics" -}}
{{- if include "dora-kafka-exporter.webConfig" . -}}
{{- $_ := set $web "config_file" "/etc/dora-kafka-exporter/web/web-config.yml" -}}
{{- end -}}
{{- $config := dict "kafka" $kafka "web" $web "log" (dict "level" .Values.log.level "format" .Values.log.format) "collectors" $collectors -}}
{{- if include "dora-kafka-exporter.sharded" . -}}
{{- /* Each pod passes its ordinal as --sharding.index. */ -}}
{{- $_ := set $config "sharding" (dict "count" (int .Values.sharding.replicas)) -}}
{{- end -}}
{{- if .Values.alerting -}}
{{- $_ := set $config "alerting" (deepCopy .Values.alerting) -}}
{{- end -}}
{{- if include "dora-kafka-exporter.incidents" . -}}
{{- $incidents := deepCopy .Values.incidents -}}
{{- $spool := deepCopy (default dict (get $incidents "spool")) -}}
{{- $_ := set $spool "directory" (include "dora-kafka-exporter.spoolPath" .) -}}
{{- $_ := set $incidents "spool" $spool -}}
{{- $_ := set $config "incidents" $incidents -}}
{{- else if .Values.incidents -}}
{{- $_ := set $config "incidents" (deepCopy .Values.incidents) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The exporter-toolkit web config rendered from .Values.web. */}}
{{- define "dora-kafka-exporter.webConfigFile" -}}
{{- $w := .Values.web -}}
{{- $out := dict -}}
{{- if $w.tls.enabled -}}
{{- $t := dict "cert_file" "/etc/dora-kafka-exporter/web-tls/tls.crt" "key_file" "/etc/dora-kafka-exporter/web-tls/tls.key" "client_auth_type" $w.tls.clientAuthType "min_version" $w.tls.minVersion -}}
{{- if has $w.tls.clientAuthType (list "VerifyClientCertIfGiven" "RequireAndVerifyClientCert") -}}
{{- $_ := set $t "client_ca_file" (printf "/etc/dora-kafka-exporter/web-tls/%s" $w.tls.clientCAKey) -}}
{{- end -}}
{{- $_ := set $out "tls_server_config" $t -}}
{{- end -}}
{{- if $w.headers -}}
{{- $_ := set $out "http_server_config" (dict "headers" $w.headers) -}}
{{- end -}}
{{- if $w.basicAuthUsers -}}
{{- range $user, $hash := $w.basicAuthUsers -}}
{{- if not (regexMatch "^\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}$" (toString $hash)) -}}
{{- fail (printf "web.basicAuthUsers.%s: expected a bcrypt hash (htpasswd -nBC 10 %s), not a password" $user $user) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out "basic_auth_users" $w.basicAuthUsers -}}
{{- end -}}
{{- if include "dora-kafka-exporter.healthListener" . -}}
{{- $_ := set $out "health_server_config" (dict "listen_address" (printf ":%d" (int $w.healthPort))) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "dora-kafka-exporter.webSecretName" -}}
{{- default (printf "%s-web" (include "dora-kafka-exporter.fullname" .)) .Values.web.existingConfigSecret -}}
{{- end -}}

{{/* The exporter container (both modes). */}}
{{- define "dora-kafka-exporter.container" -}}
{{- $sidecar := include "dora-kafka-exporter.sidecar" . -}}
{{- $probePort := ternary (include "dora-kafka-exporter.healthPortName" .) (include "dora-kafka-exporter.metricsPortName" .) (eq (include "dora-kafka-exporter.healthListener" .) "true") -}}
- name: dora-kafka-exporter
  image: "{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - --config=/etc/dora-kafka-exporter/config/exporter.yaml
    {{- if include "dora-kafka-exporter.sharded" . }}
    - --sharding.index=$(POD_INDEX)
  env:
    # The StatefulSet pod's ordinal (a pod label since Kubernetes 1.28).
    - name: POD_INDEX
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
    {{- end }}
  ports:
    - name: {{ include "dora-kafka-exporter.metricsPortName" . }}
      containerPort: {{ .Values.web.port }}
      protocol: TCP
    {{- if include "dora-kafka-exporter.healthListener" . }}
    - name: {{ include "dora-kafka-exporter.healthPortName" . }}
      containerPort: {{ .Values.web.healthPort }}
      protocol: TCP
    {{- end }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: {{ $probePort }}
    {{- toYaml .Values.livenessProbe | nindent 4 }}
  {{- if or (not $sidecar) .Values.sidecar.readinessProbe }}
  readinessProbe:
    httpGet:
      path: /ready
      port: {{ $probePort }}
    {{- toYaml .Values.readinessProbe | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml (ternary .Values.sidecarResources .Values.resources (eq $sidecar "true")) | nindent 4 }}
  volumeMounts:
    - name: dora-exporter-config
      mountPath: /etc/dora-kafka-exporter/config
      readOnly: true
    {{- if include "dora-kafka-exporter.webConfig" . }}
    - name: dora-exporter-web
      mountPath: /etc/dora-kafka-exporter/web
      readOnly: true
    {{- end }}
    {{- if .Values.web.tls.enabled }}
    - name: dora-exporter-web-tls
      mountPath: /etc/dora-kafka-exporter/web-tls
      readOnly: true
    {{- end }}
    {{- if .Values.kafka.tls.secretName }}
    - name: dora-exporter-kafka-tls
      mountPath: /etc/dora-kafka-exporter/kafka-tls
      readOnly: true
    {{- end }}
    {{- range $i, $p := .Values.kafka.secretProperties }}
    - name: dora-exporter-kafka-secret-{{ $i }}
      mountPath: /etc/dora-kafka-exporter/kafka-secrets/{{ $i }}
      readOnly: true
    {{- end }}
    {{- range .Values.extraSecretMounts }}
    - name: dora-exporter-secret-{{ .name }}
      mountPath: /etc/dora-kafka-exporter/secrets/{{ .name }}
      readOnly: true
    {{- end }}
    {{- if include "dora-kafka-exporter.incidents" . }}
    - name: dora-exporter-incidents
      mountPath: {{ include "dora-kafka-exporter.spoolPath" . }}
    {{- end }}
    {{- if $sidecar }}
    {{- range .Values.sidecar.logDirs }}
    - name: {{ .volumeName }}
      mountPath: {{ .mountPath }}
      readOnly: true
    {{- end }}
    {{- end }}
{{- end -}}

{{/* The exporter's volumes (the sidecar's log dir volumes belong to the broker pod). In a broker
     pod they are optional: a missing ConfigMap or Secret (release uninstalled, pod restarted) must
     stop only the sidecar, never the broker. */}}
{{- define "dora-kafka-exporter.volumes" -}}
{{- $sidecar := include "dora-kafka-exporter.sidecar" . -}}
- name: dora-exporter-config
  configMap:
    name: {{ include "dora-kafka-exporter.fullname" . }}
{{- if $sidecar }}
    optional: true
{{- end }}
{{- if include "dora-kafka-exporter.webConfig" . }}
- name: dora-exporter-web
  secret:
    secretName: {{ include "dora-kafka-exporter.webSecretName" . }}
{{- if $sidecar }}
    optional: true
{{- end }}
    items:
      - key: web-config.yml
        path: web-config.yml
{{- end }}
{{- if .Values.web.tls.enabled }}
- name: dora-exporter-web-tls
  secret:
    secretName: {{ required "web.tls.secretName is required when web.tls.enabled" .Values.web.tls.secretName }}
{{- if $sidecar }}
    optional: true
{{- end }}
{{- end }}
{{- if .Values.kafka.tls.secretName }}
- name: dora-exporter-kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.secretName }}
{{- if $sidecar }}
    optional: true
{{- end }}
{{- end }}
{{- range $i, $p := .Values.kafka.secretProperties }}
- name: dora-exporter-kafka-secret-{{ $i }}
  secret:
    secretName: {{ required "kafka.secretProperties[].secretName is required" $p.secretName }}
{{- if $sidecar }}
    optional: true
{{- end }}
    items:
      - key: {{ required "kafka.secretProperties[].key is required" $p.key }}
        path: {{ $p.key }}
{{- end }}
{{- range .Values.extraSecretMounts }}
- name: dora-exporter-secret-{{ .name }}
  secret:
    secretName: {{ .secretName }}
{{- if $sidecar }}
    optional: true
{{- end }}
{{- end }}
{{- if include "dora-kafka-exporter.incidents" . }}
{{- if and (not $sidecar) .Values.incidentSpool.persistence.enabled (include "dora-kafka-exporter.sharded" .) }}
{{- if .Values.incidentSpool.persistence.existingClaim }}
{{- fail "incidentSpool.persistence.existingClaim cannot hold the spools of several shards (sharding.replicas > 1): leave it empty, each shard gets a claim of its own" }}
{{- end }}
{{- /* No volume here: the StatefulSet's volumeClaimTemplates give each shard its claim. */}}
{{- else if and (not $sidecar) .Values.incidentSpool.persistence.enabled }}
- name: dora-exporter-incidents
  persistentVolumeClaim:
    claimName: {{ include "dora-kafka-exporter.spoolClaim" . }}
{{- else }}
- name: dora-exporter-incidents
  emptyDir:
    sizeLimit: {{ .Values.incidentSpool.sizeLimit }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The standalone pod template (Deployment, or the sharded StatefulSet). */}}
{{- define "dora-kafka-exporter.podTemplate" -}}
metadata:
  labels:
    {{- include "dora-kafka-exporter.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "dora-kafka-exporter.config" . | sha256sum }}
    checksum/web-config: {{ include "dora-kafka-exporter.webConfigFile" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "dora-kafka-exporter.serviceAccountName" . }}
  automountServiceAccountToken: false
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  containers:
    {{- include "dora-kafka-exporter.container" . | nindent 4 }}
  volumes:
    {{- include "dora-kafka-exporter.volumes" . | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* For a parent chart that renders the broker StatefulSet: the sidecar container. */}}
{{- define "dora-kafka-exporter.sidecarContainer" -}}
{{- include "dora-kafka-exporter.container" . -}}
{{- end -}}
{{- define "dora-kafka-exporter.sidecarVolumes" -}}
{{- include "dora-kafka-exporter.volumes" . -}}
{{- end -}}
