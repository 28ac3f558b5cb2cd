{{/* Chart name, truncated to a label. */}}
{{- define "v6-node.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: <release>-v6-node, or the release name when it contains the chart name. */}}
{{- define "v6-node.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "v6-node.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "v6-node.labels" -}}
helm.sh/chart: {{ include "v6-node.chart" . }}
{{ include "v6-node.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vantage6
{{- end }}

{{/* The immutable labels selectors use (add app.kubernetes.io/component per workload). */}}
{{- define "v6-node.selectorLabels" -}}
app.kubernetes.io/name: {{ include "v6-node.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of the node pod (agent + proxy). */}}
{{- define "v6-node.nodeSelectorLabels" -}}
{{ include "v6-node.selectorLabels" . }}
app.kubernetes.io/component: node
{{- end }}

{{/* Selector labels of the bundled Redis pod. */}}
{{- define "v6-node.redisSelectorLabels" -}}
{{ include "v6-node.selectorLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{/* Selector labels of the helm test pod. */}}
{{- define "v6-node.testSelectorLabels" -}}
{{ include "v6-node.selectorLabels" . }}
app.kubernetes.io/component: test
{{- end }}

{{/* The labels the agent puts on algorithm pods (agent/kube/names.ts), as matchLabels. */}}
{{- define "v6-node.algorithmSelectorLabels" -}}
vantage6.ai/role: algorithm
app.kubernetes.io/managed-by: v6-node
{{- if not (kindIs "invalid" .Values.networkPolicy.nodeId) }}
vantage6.ai/node-id: {{ .Values.networkPolicy.nodeId | toString | quote }}
{{- end }}
{{- end }}

{{/* Algorithm pods, by their run's vantage6 5 action (label vantage6.ai/action, agent/kube/names.ts).
The offline actions, data_extraction and preprocessing, read the data and write a dataframe:
upstream (vantage6/vantage6#1259) means them to reach nothing at all. Pass
(dict "root" $ "offlineActions" "In") for their pods, "NotIn" for every other algorithm pod: the
compute and postprocessing runs, and vantage6 4.x runs, which carry no action label (NotIn
matches a pod without the label). */}}
{{- define "v6-node.algorithmSelector" -}}
matchLabels:
  {{- include "v6-node.algorithmSelectorLabels" .root | nindent 2 }}
matchExpressions:
  - key: vantage6.ai/action
    operator: {{ .offlineActions }}
    values: [data_extraction, preprocessing]
{{- end }}

{{/* The chart's ServiceAccount (serviceAccount.create) or the existing one named serviceAccount.name. */}}
{{- define "v6-node.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "v6-node.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: the existing ServiceAccount to use when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image reference from {repository, tag, digest}; $ is passed as .root for the default tag. */}}
{{- define "v6-node.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if .image.digest }}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{- define "v6-node.image" -}}
{{ include "v6-node.imageRef" (dict "image" .Values.image "root" .) }}
{{- end }}

{{- define "v6-node.apiKeySecretName" -}}
{{- default (printf "%s-api-key" (include "v6-node.fullname" .)) .Values.apiKey.existingSecret }}
{{- end }}

{{- define "v6-node.privateKeySecretName" -}}
{{- default (printf "%s-private-key" (include "v6-node.fullname" .)) .Values.encryption.privateKey.existingSecret }}
{{- end }}

{{- define "v6-node.redisSecretName" -}}
{{- default (printf "%s-redis" (include "v6-node.fullname" .)) .Values.redis.auth.existingSecret }}
{{- end }}

{{- define "v6-node.taskClaimName" -}}
{{- default (printf "%s-tasks" (include "v6-node.fullname" .)) .Values.taskVolume.existingClaim }}
{{- end }}

{{/* The chart-created claim of a file database: <fullname>-db-<label>, label made a DNS label. */}}
{{- define "v6-node.databaseClaimName" -}}
{{- if .db.volume.existingClaim }}
{{- .db.volume.existingClaim }}
{{- else }}
{{- printf "%s-db-%s" (include "v6-node.fullname" .root) (.db.label | lower | replace "_" "-") | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "v6-node.proxyUrl" -}}
{{- default (printf "http://%s.%s.svc.cluster.local" (include "v6-node.fullname" .) .Release.Namespace) .Values.proxy.url }}
{{- end }}

{{- define "v6-node.redisUrl" -}}
{{- if .Values.redis.bundled }}
{{- printf "redis://%s-redis.%s.svc.cluster.local:6379" (include "v6-node.fullname" .) .Release.Namespace }}
{{- else }}
{{- required "redis.external.url is required when redis.bundled is false" .Values.redis.external.url }}
{{- end }}
{{- end }}

{{/* Where the agent and the proxy find the private key. */}}
{{- define "v6-node.privateKeyPath" -}}
/etc/v6-node/private-key/private-key.pem
{{- end }}

{{/* The restricted container securityContext every container of the chart gets. */}}
{{- define "v6-node.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The agent config file (agent/config.ts), from values. api_key, node_name, Redis password and
isolation.allow_unenforced come from the environment; absent optional keys are left to the agent's defaults. */}}
{{- define "v6-node.config" -}}
{{- $v := .Values }}
{{- $c := dict }}
{{- if $v.hub.url }}
{{- $_ := set $c "hq_url" $v.hub.url }}
{{- $_ := set $c "api_path" $v.hub.apiPath }}
{{- if not (kindIs "invalid" $v.hub.port) }}{{ $_ := set $c "port" (int $v.hub.port) }}{{ end }}
{{- $_ := set $c "name" (required "hub.nodeName: the node's name at the hub (its Keycloak client is <name>-node-client)" $v.hub.nodeName) }}
{{- $_ := set $c "keycloak" (dict "url" (required "hub.keycloak.url: the Keycloak that issues the node's tokens" $v.hub.keycloak.url) "realm" $v.hub.keycloak.realm) }}
{{- else }}
{{- $_ := set $c "server_url" $v.server.url }}
{{- $_ := set $c "api_path" $v.server.apiPath }}
{{- if not (kindIs "invalid" $v.server.port) }}{{ $_ := set $c "port" (int $v.server.port) }}{{ end }}
{{- end }}
{{- $dbs := list }}
{{- range $v.databases }}
{{- $db := dict "label" .label "type" .type "uri" .uri }}
{{- if .env }}{{ $_ := set $db "env" .env }}{{ end }}
{{- if .volume }}
{{- $vol := dict "claim_name" (include "v6-node.databaseClaimName" (dict "db" . "root" $)) }}
{{- if .volume.subPath }}{{ $_ := set $vol "sub_path" .volume.subPath }}{{ end }}
{{- $_ := set $db "volume" $vol }}
{{- end }}
{{- $dbs = append $dbs $db }}
{{- end }}
{{- $_ := set $c "databases" $dbs }}
{{- $enc := dict "enabled" $v.encryption.enabled }}
{{- if $v.encryption.enabled }}{{ $_ := set $enc "private_key" (include "v6-node.privateKeyPath" .) }}{{ end }}
{{- $_ := set $c "encryption" $enc }}
{{- $p := dict "allow_basics_algorithm" $v.policies.allowBasicsAlgorithm "require_algorithm_pull" $v.policies.requireAlgorithmPull "allow_either_whitelist_or_store" $v.policies.allowEitherWhitelistOrStore }}
{{- with $v.policies.allowedAlgorithms }}{{ $_ := set $p "allowed_algorithms" . }}{{ end }}
{{- with $v.policies.allowedAlgorithmStores }}{{ $_ := set $p "allowed_algorithm_stores" . }}{{ end }}
{{- with $v.policies.allowedOrganizations }}{{ $_ := set $p "allowed_organizations" . }}{{ end }}
{{- with $v.policies.allowedUsers }}{{ $_ := set $p "allowed_users" . }}{{ end }}
{{- $_ := set $c "policies" $p }}
{{- $_ := set $c "algorithm_env" $v.algorithmEnv }}
{{- $_ := set $c "share_algorithm_logs" $v.shareAlgorithmLogs }}
{{- $_ := set $c "share_config" $v.shareConfig }}
{{- $_ := set $c "logging" (dict "level" $v.logLevel) }}
{{- $a := $v.algorithms }}
{{- $run := dict "resources" $a.resources "active_deadline_seconds" (int $a.activeDeadlineSeconds) "ttl_seconds_after_finished" (int $a.ttlSecondsAfterFinished) "termination_grace_period_seconds" (int $a.terminationGracePeriodSeconds) "run_as_user" (int $a.runAsUser) "run_as_group" (int $a.runAsGroup) "fs_group" (int $a.fsGroup) "tmp_size_limit" $a.tmpSizeLimit "max_volume_bytes" (int64 $a.maxVolumeBytes) }}
{{- $overrides := list }}
{{- range $a.imageOverrides }}
{{- $o := dict "image" .image }}
{{- with .resources }}{{ $_ := set $o "resources" . }}{{ end }}
{{- if .activeDeadlineSeconds }}{{ $_ := set $o "active_deadline_seconds" (int .activeDeadlineSeconds) }}{{ end }}
{{- $overrides = append $overrides $o }}
{{- end }}
{{- $tv := dict "claim_name" (include "v6-node.taskClaimName" .) "access_mode" $v.taskVolume.accessMode "mount_path" $v.taskVolume.mountPath }}
{{- $_ := set $c "kubernetes" (dict "namespace" .Release.Namespace "task_volume" $tv "image_pull_secrets" $a.imagePullSecrets "run" $run "image_overrides" $overrides) }}
{{- $_ := set $c "redis" (dict "url" (include "v6-node.redisUrl" .)) }}
{{- $_ := set $c "queue" (dict "concurrency" (int $v.queue.concurrency) "max_active_jobs" (int $v.queue.maxActiveJobs) "prefix" $v.queue.prefix) }}
{{- $_ := set $c "proxy" (dict "url" (include "v6-node.proxyUrl" .) "port" (int $v.proxy.port) "listen_port" (int $v.proxy.listenPort) "max_body_bytes" (int64 $v.proxy.maxBodyBytes) "max_concurrent_decryptions" (int $v.proxy.maxConcurrentDecryptions) "max_bytes_in_flight" (int64 $v.proxy.maxBytesInFlight)) }}
{{- $_ := set $c "metrics" (dict "port" (int $v.metrics.port) "proxy_port" (int $v.metrics.proxyPort)) }}
{{- $_ := set $c "results" (dict "max_output_bytes" (int64 $v.results.maxOutputBytes)) }}
{{- $iso := dict "probe" $v.isolation.probe "gate" $v.isolation.gate "image" (default (include "v6-node.image" .) $v.isolation.image) "image_pull_secrets" $v.imagePullSecrets "timeout_seconds" (int $v.isolation.timeoutSeconds) "proxy_wait_seconds" (int $v.isolation.proxyWaitSeconds) "interval_seconds" (int $v.isolation.intervalSeconds) "retry_seconds" (int $v.isolation.retrySeconds) }}
{{- with $v.isolation.forbiddenUrl }}{{ $_ := set $iso "forbidden_url" . }}{{ end }}
{{- $_ := set $c "isolation" $iso }}
{{- toYaml $c }}
{{- end }}

{{- define "v6-node.dnsPeer" -}}
{{- if .Values.networkPolicy.dns.cidrs }}
{{- include "v6-node.ipPeers" .Values.networkPolicy.dns.cidrs }}
{{- else }}
- namespaceSelector:
    matchLabels:
      {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 6 }}
  podSelector:
    matchLabels:
      {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 6 }}
{{- end }}
{{- end }}
{{- define "v6-node.dnsPorts" -}}
- protocol: UDP
  port: 53
- protocol: TCP
  port: 53
{{- end }}
{{- define "v6-node.ipPeers" -}}
{{- range . }}
- ipBlock:
    cidr: {{ . }}
{{- end }}
{{- end }}
{{- define "v6-node.tcpPorts" -}}
{{- range . }}
- protocol: TCP
  port: {{ . }}
{{- end }}
{{- end }}

{{- define "v6-node.storageClass" -}}
{{- if not (kindIs "invalid" .) }}
{{- if eq . "-" }}
storageClassName: ""
{{- else }}
storageClassName: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
