package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ConfigMaps says how many ConfigMaps CreateConfigMaps makes, and where.
type ConfigMaps struct {
	// Namespaces are created when missing; objects are spread evenly.
	Namespaces []string
	// Total is the number of ConfigMaps across all namespaces.
	Total int
	// DataBytes is the size of each ConfigMap's data (default 256): text
	// that differs from object to object and compresses about as well as
	// real configuration does, not a run of one letter.
	DataBytes int
	// Workers create concurrently (default 16).
	Workers int
	// Prefix starts every name (default "cm").
	Prefix string
}

// ConfigMapName is the name of the i-th ConfigMap of a namespace.
func (c ConfigMaps) ConfigMapName(i int) string {
	prefix := c.Prefix
	if prefix == "" {
		prefix = "cm"
	}
	return fmt.Sprintf("%s-%06d", prefix, i)
}

// CreateConfigMaps fills namespaces with ConfigMaps, the bulk object of the
// benchmarks: many small objects, as in the clusters people back up.
func CreateConfigMaps(ctx context.Context, cs kubernetes.Interface, spec ConfigMaps) error {
	if len(spec.Namespaces) == 0 || spec.Total <= 0 {
		return fmt.Errorf("workload.CreateConfigMaps: give namespaces and a positive total")
	}
	if spec.DataBytes <= 0 {
		spec.DataBytes = 256
	}
	if spec.Workers <= 0 {
		spec.Workers = 16
	}
	for _, ns := range spec.Namespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.Workers)
	for i := range spec.Total {
		ns := spec.Namespaces[i%len(spec.Namespaces)]
		name := spec.ConfigMapName(i / len(spec.Namespaces))
		g.Go(func() error {
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bulk", "shard": fmt.Sprint(i % 7)}},
				Data:       map[string]string{"value": configText(i, spec.DataBytes), "index": fmt.Sprint(i)},
			}
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("creating ConfigMap %s/%s: %w", ns, name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// configText is deterministic, object-specific text of n bytes, drawn from
// the words of configuration files so that it compresses like them.
func configText(seed, n int) string {
	words := []string{"server", "port", "8080", "timeout", "30s", "enabled", "true", "replicas", "3", "endpoint",
		"https://api.example.com", "cache", "ttl", "retries", "log_level", "info", "feature", "checkout-v2", "region",
		"eu-west-1", "pool_size", "16", "tls", "false", "path", "/var/lib/app", "user", "app", "queue", "orders"}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b6261636b7570))
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, "%s: %s-%d\n", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(100000))
	}
	return b.String()[:n]
}
