package kubernetes

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// clients are the stack's connections to the cluster.
type clients struct {
	rest   *rest.Config
	kube   kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

// restConfig is cfg's cluster: cfg.REST, or the kubeconfig's context (the
// in-cluster configuration when there is no kubeconfig).
func restConfig(cfg Config) (*rest.Config, error) {
	if cfg.REST != nil {
		return rest.CopyConfig(cfg.REST), nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the kubernetes stack needs a cluster: %w (give -kubeconfig and -kube-context, or run in a pod)", err)
	}
	return rc, nil
}

func connect(cfg Config) (*clients, error) {
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	if rc.UserAgent == "" {
		rc.UserAgent = "chaoslab"
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	return &clients{rest: rc, kube: kube, dyn: dyn, mapper: mapper}, nil
}
