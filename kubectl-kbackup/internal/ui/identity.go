package ui

import (
	"fmt"
	"io"

	"github.com/kbackup/kbackup/core/kube"
)

// RenderIdentity writes a cluster's identity and the evidence behind it.
func RenderIdentity(w io.Writer, s *Styles, id *kube.Identity) error {
	p := &printer{w: w}
	kv := &keyValues{}
	kv.add("Name", fmt.Sprintf("%s (from %s)", s.Strong.Render(id.Name), id.NameSource))
	kv.add("UID", id.UID+" (of namespace kube-system)")
	kv.add("Provider", id.Provider)
	kv.add("Distribution", id.Distribution)
	kv.add("Kubernetes", id.KubernetesVersion)
	kv.add("Server", id.Server)
	kv.add("Context", orDash(id.ContextName))
	kv.write(p, "")
	if len(id.Sources) > 0 {
		p.line("%s", s.Header.Render("Evidence:"))
		for _, e := range id.Sources {
			p.line("  %s: %s", e.Source, e.Detail)
		}
	}
	return p.err
}
