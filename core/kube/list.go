package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DefaultListPageSize is the page size of ListObjects.
const DefaultListPageSize = 500

// ListObjects reads every object of one resource type, a page at a time,
// in one namespace ("" for all namespaces or a cluster-scoped type), and
// calls fn with each page's objects. labelSelector may be "". The objects
// are JSON-decoded (the dynamic client), as restore and diff compare them
// with objects read from a backup.
func (c *Client) ListObjects(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string, fn func([]unstructured.Unstructured) error) error {
	opts := metav1.ListOptions{Limit: DefaultListPageSize, LabelSelector: labelSelector}
	for {
		list, err := c.Dynamic.Resource(gvr).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return err
		}
		if err := fn(list.Items); err != nil {
			return err
		}
		if list.GetContinue() == "" {
			return nil
		}
		opts.Continue = list.GetContinue()
	}
}
