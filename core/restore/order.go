package restore

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Stage is a step of a restore. Every object of a stage is applied before
// any object of the next stage is.
type Stage string

// The stages, in the order they run. StageInfos gives what each holds and
// why it comes where it does.
const (
	StageCRDs                 Stage = "CustomResourceDefinitions"
	StageNamespaces           Stage = "Namespaces"
	StageClusterConfig        Stage = "ClusterConfiguration"
	StageServiceAccounts      Stage = "ServiceAccounts"
	StageConfig               Stage = "SecretsAndConfigMaps"
	StageRBAC                 Stage = "RBAC"
	StageNamespacePolicies    Stage = "NamespacePolicies"
	StageStorage              Stage = "Storage"
	StageNetwork              Stage = "ServicesAndNetworkPolicies"
	StageWorkloads            Stage = "Workloads"
	StageWorkloadDependents   Stage = "IngressesAutoscalersAndBudgets"
	StageOther                Stage = "OtherResources"
	StageCustomResources      Stage = "CustomResources"
	StageAdmissionAggregation Stage = "AdmissionAndAggregation"
)

// StageInfo documents a stage.
type StageInfo struct {
	Stage Stage `json:"stage"`
	// Holds says which resource types the stage applies.
	Holds string `json:"holds"`
	// Why the stage comes where it does.
	Why string `json:"why"`
}

// StageInfos lists the stages in order, as docs/restore.md does.
var StageInfos = []StageInfo{
	{StageCRDs, "CustomResourceDefinitions; the restore then waits until each is Established",
		"custom resources cannot be created, or even checked, before their definition is served"},
	{StageNamespaces, "Namespaces",
		"every namespaced object needs its namespace; creating one in a missing namespace is refused"},
	{StageClusterConfig, "StorageClasses, PriorityClasses, IngressClasses, RuntimeClasses, ClusterRoles and other built-in cluster-scoped types not named below",
		"namespaced objects refer to them by name (a claim's storage class, a pod's priority class); admission resolves some of them when objects are created"},
	{StageServiceAccounts, "ServiceAccounts",
		"pods are refused when their service account does not exist yet, and bindings name accounts"},
	{StageConfig, "Secrets and ConfigMaps",
		"workloads mount and read them; a pod that starts before its Secret exists fails to start"},
	{StageRBAC, "Roles, RoleBindings and ClusterRoleBindings",
		"workloads and operators need their permissions from their first request; bindings come after the accounts and roles they name"},
	{StageNamespacePolicies, "LimitRanges and ResourceQuotas",
		"admission applies them to what is created after them, as in the source: defaults from LimitRanges are set on new pods and claims"},
	{StageStorage, "PersistentVolumes, then PersistentVolumeClaims (one stage: a claim names its volume and binds when both exist)",
		"workloads mount claims; a pod whose claim is missing does not start"},
	{StageNetwork, "Services, Endpoints, EndpointSlices and NetworkPolicies",
		"before the workloads: pods get environment variables only for Services that exist when they start, and a pod that starts before its NetworkPolicy is briefly open"},
	{StageWorkloads, "Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, CronJobs, Jobs and Pods",
		"everything they need exists by now, so their controllers start pods that can run"},
	{StageWorkloadDependents, "Ingresses, HorizontalPodAutoscalers and PodDisruptionBudgets",
		"they point at Services and workloads; an autoscaler whose target is missing reports errors until it appears"},
	{StageOther, "other built-in namespaced types",
		"nothing above depends on them"},
	{StageCustomResources, "custom resources",
		"their definitions are Established by now, and the operators that act on them find the built-in objects they refer to"},
	{StageAdmissionAggregation, "MutatingWebhookConfigurations, ValidatingWebhookConfigurations, ValidatingAdmissionPolicies and their bindings, MutatingAdmissionPolicies and their bindings, and APIServices",
		"last: a webhook or aggregated API whose backing Service is not running yet would refuse or stall every request it intercepts, and a policy added after objects existed in the source could refuse them in the target"},
}

func stageIndex(s Stage) int {
	for i, info := range StageInfos {
		if info.Stage == s {
			return i
		}
	}
	return len(StageInfos)
}

var stageOfType = map[schema.GroupResource]Stage{
	{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}: StageCRDs,
	grNamespaces:                  StageNamespaces,
	{Resource: "serviceaccounts"}: StageServiceAccounts,
	{Resource: "secrets"}:         StageConfig,
	{Resource: "configmaps"}:      StageConfig,
	{Group: "rbac.authorization.k8s.io", Resource: "roles"}:                                StageRBAC,
	{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}:                         StageRBAC,
	{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}:                  StageRBAC,
	{Resource: "limitranges"}:                                                              StageNamespacePolicies,
	{Resource: "resourcequotas"}:                                                           StageNamespacePolicies,
	{Resource: "persistentvolumes"}:                                                        StageStorage,
	{Resource: "persistentvolumeclaims"}:                                                   StageStorage,
	{Resource: "services"}:                                                                 StageNetwork,
	{Resource: "endpoints"}:                                                                StageNetwork,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:                                StageNetwork,
	{Group: "networking.k8s.io", Resource: "networkpolicies"}:                              StageNetwork,
	{Group: "apps", Resource: "deployments"}:                                               StageWorkloads,
	{Group: "apps", Resource: "statefulsets"}:                                              StageWorkloads,
	{Group: "apps", Resource: "daemonsets"}:                                                StageWorkloads,
	{Group: "apps", Resource: "replicasets"}:                                               StageWorkloads,
	{Resource: "replicationcontrollers"}:                                                   StageWorkloads,
	{Group: "batch", Resource: "cronjobs"}:                                                 StageWorkloads,
	{Group: "batch", Resource: "jobs"}:                                                     StageWorkloads,
	{Resource: "pods"}:                                                                     StageWorkloads,
	{Group: "networking.k8s.io", Resource: "ingresses"}:                                    StageWorkloadDependents,
	{Group: "autoscaling", Resource: "horizontalpodautoscalers"}:                           StageWorkloadDependents,
	{Group: "policy", Resource: "poddisruptionbudgets"}:                                    StageWorkloadDependents,
	{Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}:     StageAdmissionAggregation,
	{Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations"}:   StageAdmissionAggregation,
	{Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies"}:       StageAdmissionAggregation,
	{Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicybindings"}: StageAdmissionAggregation,
	{Group: "admissionregistration.k8s.io", Resource: "mutatingadmissionpolicies"}:         StageAdmissionAggregation,
	{Group: "admissionregistration.k8s.io", Resource: "mutatingadmissionpolicybindings"}:   StageAdmissionAggregation,
	{Group: "apiregistration.k8s.io", Resource: "apiservices"}:                             StageAdmissionAggregation,
}

// StageOf returns the stage of a resource type. builtin says whether the
// type is built into Kubernetes (not a custom resource); namespaced whether
// its objects live in namespaces.
func StageOf(gr schema.GroupResource, builtin, namespaced bool) Stage {
	if s, ok := stageOfType[gr]; ok {
		return s
	}
	switch {
	case !builtin:
		return StageCustomResources
	case namespaced:
		return StageOther
	}
	return StageClusterConfig
}
