{{/*
Names. The Service is named after the full name, so the serving certificate's DNS names
(<fullname>.<namespace>.svc) follow from it.
*/}}
{{- define "kargo-rollback-webhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kargo-rollback-webhook.fullname" -}}
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

{{- define "kargo-rollback-webhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kargo-rollback-webhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kargo-rollback-webhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Labels: Kubernetes' recommended labels plus helm.sh/chart. The selector is the stable subset.
*/}}
{{- define "kargo-rollback-webhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kargo-rollback-webhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kargo-rollback-webhook.labels" -}}
helm.sh/chart: {{ include "kargo-rollback-webhook.chart" . }}
{{ include "kargo-rollback-webhook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: admission-webhook
app.kubernetes.io/part-of: kargo
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kargo-rollback-webhook.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The usernames allowed to touch the rollback annotation, comma-separated (KRW_CONTROLLER_USERNAME).
*/}}
{{- define "kargo-rollback-webhook.controllerUsernames" -}}
{{- if .Values.controller.usernames }}
{{- join "," .Values.controller.usernames }}
{{- else }}
{{- printf "system:serviceaccount:%s:kargo-controller" .Values.kargo.namespace }}
{{- end }}
{{- end }}

{{/*
Shutdown: the kubelet counts the preStop hook against the grace period, so the period covers the
preStop pause, the server's drain and its shutdown timeout, plus a margin.
*/}}
{{- define "kargo-rollback-webhook.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- add $s.preStopSleepSeconds $s.drainSeconds $s.timeoutSeconds $s.marginSeconds }}
{{- end }}

{{/*
TLS. The Secret the pods mount: <fullname>-tls in modes helm and certManager, the user's own in
mode secret.
*/}}
{{- define "kargo-rollback-webhook.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" }}
{{- required "tls.secret.name is required with tls.mode=secret" .Values.tls.secret.name }}
{{- else }}
{{- printf "%s-tls" (include "kargo-rollback-webhook.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The name the API server calls the webhook by: <svc>.<namespace>.svc.
*/}}
{{- define "kargo-rollback-webhook.serviceDNSName" -}}
{{- printf "%s.%s.svc" (include "kargo-rollback-webhook.fullname" .) .Release.Namespace }}
{{- end }}

{{/*
DNS names of the serving certificate, as JSON: every name the Service answers to in the cluster.
*/}}
{{- define "kargo-rollback-webhook.dnsNames" -}}
{{- $svc := include "kargo-rollback-webhook.fullname" . }}
{{- $dnsName := include "kargo-rollback-webhook.serviceDNSName" . }}
{{- list $svc (printf "%s.%s" $svc .Release.Namespace) $dnsName (printf "%s.cluster.local" $dnsName) | toJson }}
{{- end }}

{{/*
tls.mode=helm: the CA and serving certificate, as JSON {"ca.crt", "tls.crt", "tls.key"} (PEM).

Taken from the existing Secret when it holds all three, so upgrades keep the CA and certificate
and the caBundle never changes under running pods; generated otherwise (first install, or after
the Secret was deleted to renew). `helm template` and client-side dry runs cannot look up, so
they always show fresh ones.

Computed once per render and cached in .Values (each chart instance has its own), because the
Secret, both webhook configurations and the pods' checksum annotation must see the same
certificate, and genCA is random.
*/}}
{{- define "kargo-rollback-webhook.helmTLS" -}}
{{- if not (hasKey .Values "__generatedTLS") }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "kargo-rollback-webhook.tlsSecretName" .) }}
{{- $ca := dig "data" "ca.crt" "" $existing }}
{{- $crt := dig "data" "tls.crt" "" $existing }}
{{- $key := dig "data" "tls.key" "" $existing }}
{{- $tls := dict }}
{{- if and $ca $crt $key }}
{{- $tls = dict "ca.crt" (b64dec $ca) "tls.crt" (b64dec $crt) "tls.key" (b64dec $key) }}
{{- else }}
{{- $fullname := include "kargo-rollback-webhook.fullname" . }}
{{- $dnsNames := include "kargo-rollback-webhook.dnsNames" . | fromJsonArray }}
{{- $generatedCA := genCA (printf "%s-ca" $fullname) (int .Values.tls.helm.caValidityDays) }}
{{- $commonName := include "kargo-rollback-webhook.serviceDNSName" . }}
{{- $cert := genSignedCert $commonName nil $dnsNames (int .Values.tls.helm.certValidityDays) $generatedCA }}
{{- $tls = dict "ca.crt" $generatedCA.Cert "tls.crt" $cert.Cert "tls.key" $cert.Key }}
{{- end }}
{{- $_ := set .Values "__generatedTLS" $tls }}
{{- end }}
{{- toJson .Values.__generatedTLS }}
{{- end }}

{{/*
The webhooks' caBundle (base64 PEM). Empty in mode certManager: cert-manager's CA injector fills it.
*/}}
{{- define "kargo-rollback-webhook.caBundle" -}}
{{- if eq .Values.tls.mode "helm" }}
{{- index (include "kargo-rollback-webhook.helmTLS" . | fromJson) "ca.crt" | b64enc }}
{{- else if eq .Values.tls.mode "secret" }}
{{- required "tls.caBundle (PEM) is required with tls.mode=secret" .Values.tls.caBundle | b64enc }}
{{- end }}
{{- end }}

{{/*
tls.mode=certManager: the serving Certificate whose CA cert-manager injects into the webhooks.
*/}}
{{- define "kargo-rollback-webhook.injectCAFrom" -}}
{{- printf "%s/%s" .Release.Namespace (include "kargo-rollback-webhook.fullname" .) }}
{{- end }}

{{/*
The fields every webhook shares; call with (dict "root" $ "path" <server path> "resource"
<promotion|projectConfig>): the resource picks the chart's own matchConditions.
*/}}
{{- define "kargo-rollback-webhook.webhookCommon" -}}
{{- $root := .root }}
{{- $values := $root.Values -}}
clientConfig:
  service:
    name: {{ include "kargo-rollback-webhook.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: {{ $values.service.port }}
  {{- with include "kargo-rollback-webhook.caBundle" $root }}
  caBundle: {{ . }}
  {{- end }}
admissionReviewVersions: ["v1", "v1beta1"]
sideEffects: None
failurePolicy: {{ $values.failurePolicy }}
timeoutSeconds: {{ $values.timeoutSeconds }}
matchPolicy: Equivalent
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range concat (list "kube-system" $root.Release.Namespace) $values.namespaceSelector.excludedNamespaces | uniq }}
        - {{ . | quote }}
        {{- end }}
    {{- if $values.namespaceSelector.kargoProjectsOnly }}
    - key: kargo.akuity.io/project
      operator: In
      values: ["true"]
    {{- end }}
{{- $conditions := list }}
{{- if $values.defaultMatchConditions }}
{{- $conditions = include (printf "kargo-rollback-webhook.%sMatchConditions" .resource) $root | fromJsonArray }}
{{- end }}
{{- $builtin := list }}
{{- range $conditions }}{{ $builtin = append $builtin .name }}{{ end }}
{{- range $values.matchConditions }}
{{- if has .name $builtin }}
{{- fail (printf "matchConditions: the name %q is taken by the chart's own condition; rename yours (or set defaultMatchConditions: false)" .name) }}
{{- end }}
{{- end }}
{{- $conditions = concat $conditions $values.matchConditions }}
{{- if gt (len $conditions) 64 }}
{{- fail (printf "matchConditions: %d of yours and %d of the chart's make %d, over the API server's 64 per webhook" (len $values.matchConditions) (len $builtin) (len $conditions)) }}
{{- end }}
{{- with $conditions }}
matchConditions:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A CEL string literal for a string (app.commands.match_conditions.cel_string): single-quoted,
backslash and quote escaped, every control character as \xNN, so no username can end the literal
early or break a line (CEL forbids a raw line break in a quoted string).
*/}}
{{- define "kargo-rollback-webhook.celString" -}}
{{- $s := . | replace "\\" "\\\\" | replace "'" "\\'" }}
{{- range $c := until 32 }}{{ $s = replace (printf "%c" $c) (printf "\\x%02x" $c) $s }}{{ end }}
{{- $s = replace (printf "%c" 127) "\\x7f" $s }}
{{- printf "'%s'" $s }}
{{- end }}

{{/*
The controller usernames as a CEL list literal, duplicates dropped, order kept.
*/}}
{{- define "kargo-rollback-webhook.controllerUsernamesCEL" -}}
{{- $names := splitList "," (include "kargo-rollback-webhook.controllerUsernames" .) | uniq }}
{{- $literals := list }}
{{- range $names }}{{ $literals = append $literals (include "kargo-rollback-webhook.celString" .) }}{{ end }}
{{- printf "[%s]" (join ", " $literals) }}
{{- end }}

{{/*
The matchConditions that keep ordinary writes away from the webhooks, as a JSON list; kept
identical to app/commands/match_conditions.py (tests/chart compares the two, and
tests/commands/test_match_conditions.py proves them against the webhook's decisions).
Promotions (both webhooks, and the fallback ValidatingAdmissionPolicy): a user who is not a
controller username, setting, changing or removing kargo.akuity.io/rollback. Every expression is
total: it never errors on absent or null annotations, or on oldObject null (CREATE).
*/}}
{{- define "kargo-rollback-webhook.promotionMatchConditions" -}}
{{- $key := include "kargo-rollback-webhook.celString" "kargo.akuity.io/rollback" }}
{{- $new := printf "has(object.metadata.annotations) && object.metadata.annotations != null && %s in object.metadata.annotations" $key }}
{{- $old := printf "oldObject != null && has(oldObject.metadata.annotations) && oldObject.metadata.annotations != null && %s in oldObject.metadata.annotations" $key }}
{{- $differ := printf "object.metadata.annotations[%s] != oldObject.metadata.annotations[%s]" $key $key }}
{{- $notController := printf "!(request.userInfo.username in %s)" (include "kargo-rollback-webhook.controllerUsernamesCEL" .) }}
{{- $changes := printf "(%s) != (%s) || ((%s) && (%s) && %s)" $new $old $new $old $differ }}
{{- list (dict "name" "not-a-kargo-controller" "expression" $notController) (dict "name" "rollback-annotation-changes" "expression" $changes) | toJson }}
{{- end }}

{{/*
ProjectConfigs: every CREATE, and an UPDATE whose spec differs from the old object's.
*/}}
{{- define "kargo-rollback-webhook.projectConfigMatchConditions" -}}
{{- $expression := "oldObject == null || has(object.spec) != has(oldObject.spec) || (has(object.spec) && object.spec != oldObject.spec)" }}
{{- list (dict "name" "create-or-spec-changes" "expression" $expression) | toJson }}
{{- end }}

{{/*
The rule of one Kargo resource; call with the plural resource name.
*/}}
{{- define "kargo-rollback-webhook.rules" -}}
rules:
  - apiGroups: ["kargo.akuity.io"]
    apiVersions: ["v1alpha1"]
    operations: ["CREATE", "UPDATE"]
    resources: [{{ . | quote }}]
    scope: Namespaced
{{- end }}

{{/*
How the kubelet probes a path; call with (dict "root" $ "path" "/healthz"). HTTPS GET (the kubelet
does not verify the certificate). With tls.clientCA the server demands a client certificate on
every connection, which the kubelet never presents, so the probes fall back to a TCP connect.
*/}}
{{- define "kargo-rollback-webhook.probeHandler" -}}
{{- if .root.Values.tls.clientCA.secretName -}}
tcpSocket:
  port: https
{{- else -}}
httpGet:
  path: {{ .path }}
  port: https
  scheme: HTTPS
{{- end }}
{{- end }}

{{/*
Monitoring. The webhooks' names as a PromQL regex (dots escaped): the API server's admission
metrics label each call with the webhook's name. The mutating one exists in mode strip only, but
matching its name costs nothing, and a mode switch keeps the rules right.
*/}}
{{- define "kargo-rollback-webhook.webhookNamesRegex" -}}
{{- $names := list "promotions.mutate.kargo-rollback-webhook" "projectconfigs.validate.kargo-rollback-webhook" "promotions.validate.kargo-rollback-webhook" }}
{{- $escaped := list }}
{{- range $names }}{{ $escaped = append $escaped (replace "." "\\." .) }}{{ end }}
{{- join "|" $escaped }}
{{- end }}

{{/*
Where an alert's runbook is: its section of docs/operating.md (the heading is the alert's name); call
with (dict "root" $ "alert" "<AlertName>").
*/}}
{{- define "kargo-rollback-webhook.runbookURL" -}}
{{- printf "%s#%s" .root.Values.prometheusRule.runbookBaseURL (lower .alert) }}
{{- end }}

{{/*
With an autoscaler, the PodDisruptionBudget must still let one pod be evicted at the smallest
size the autoscaler may choose (autoscaling.minReplicas), or node drains block for good. Fails the
render otherwise.
*/}}
{{- define "kargo-rollback-webhook.checkDisruptionBudget" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and .Values.autoscaling.enabled $pdb.enabled }}
{{- $min := int .Values.autoscaling.minReplicas }}
{{- if not (kindIs "invalid" $pdb.minAvailable) }}
{{- if and (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) $min) }}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be below autoscaling.minReplicas (%v): otherwise no pod can ever be evicted" $pdb.minAvailable $min) }}
{{- end }}
{{- if eq (toString $pdb.minAvailable) "100%" }}
{{- fail "podDisruptionBudget.minAvailable 100% never lets a pod be evicted; use a lower value with autoscaling" }}
{{- end }}
{{- else if has (toString $pdb.maxUnavailable) (list "0" "0%") }}
{{- fail "podDisruptionBudget.maxUnavailable 0 never lets a pod be evicted; use 1 or more with autoscaling" }}
{{- end }}
{{- end }}
{{- end }}
