package export

import (
	"bytes"
	"fmt"
	"strings"
)

// secretsGuide lists the Secrets by name and key names (never a value) and
// says how to supply each without writing its value into Git.
func secretsGuide(secrets []SecretRef, opts Options) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	if opts.Secrets == SecretsInclude {
		p("# Secrets written with their values\n\n")
		p("This export was asked to include Secrets, and wrote these with their values, base64-encoded and **not\n")
		p("encrypted**. Do not push them to a shared repository: replace each with one of the ways below, then\n")
		p("export again leaving Secrets out (the default).\n\n")
	} else {
		p("# Secrets left out\n\n")
		p("The export writes no Secret: a value in Git is a value for everyone who can read the repository. These\n")
		p("Secrets of the backup are needed by the objects exported; supply each in one of the ways below.\n\n")
	}
	p("The export owns its directory: a later export refuses a directory holding files it did not write, so that\n")
	p("it never overwrites or deletes yours. Keep what you add beside it: export into a subdirectory of your\n")
	p("repository (such as `generated/`), and keep the Secrets' replacements in `secrets/<namespace>/` next to it,\n")
	p("synced by an Argo CD Application of your own (or listed by a kustomization of yours that also takes\n")
	p("`generated/namespaces/<namespace>/<environment>`).\n\n")
	p("| namespace | Secret | type | keys |\n|---|---|---|---|\n")
	for _, s := range secrets {
		p("| %s | %s | %s | %s |\n", s.Namespace, s.Name, s.Type, strings.Join(quoted(s.Keys), ", "))
	}
	p("\n## Sealed Secrets\n\n")
	p("With the Sealed Secrets controller in the target cluster, encrypt each Secret with its public key and commit\n")
	p("the SealedSecret:\n\n```sh\n")
	for _, s := range secrets {
		p("kubectl create secret generic %s -n %s %s--dry-run=client -o yaml \\\n  | kubeseal -o yaml > %s\n",
			s.Name, s.Namespace, literalFlags(s), secretPath(s, opts, "sealedsecret"))
	}
	p("```\n\n## External Secrets Operator\n\n")
	p("Keep the values in your secret store and commit an ExternalSecret per Secret; for example, for the first one:\n\n```yaml\n")
	if len(secrets) > 0 {
		s := secrets[0]
		p("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n", s.Name, s.Namespace)
		p("  secretStoreRef:\n    kind: ClusterSecretStore\n    name: <your store>\n  target:\n    name: %s\n", s.Name)
		if s.Type != "" && s.Type != "Opaque" {
			p("    template:\n      type: %s\n", s.Type)
		}
		p("  data:\n")
		for _, k := range s.Keys {
			p("  - secretKey: %q\n    remoteRef:\n      key: %s/%s\n      property: %q\n", k, s.Namespace, s.Name, k)
		}
	}
	p("```\n\n## SOPS\n\n")
	p("Encrypt each Secret's data with SOPS (age, PGP or a cloud KMS) and let Argo CD decrypt it at sync, with\n")
	p("KSOPS or the helm-secrets plugin:\n\n```sh\n")
	for _, s := range secrets {
		file := secretPath(s, opts, "secret")
		p("kubectl create secret generic %s -n %s %s--dry-run=client -o yaml > %s\n", s.Name, s.Namespace, literalFlags(s), file)
		p("sops --encrypt --encrypted-regex '^(data|stringData)$' --in-place %s\n", file)
	}
	p("```\n")
	return b.Bytes()
}

func quoted(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "`" + k + "`"
	}
	return out
}

// literalFlags are placeholders for each key: the value is the user's to
// type, never the backup's.
func literalFlags(s SecretRef) string {
	var b strings.Builder
	if s.Type != "" && s.Type != "Opaque" {
		fmt.Fprintf(&b, "--type %s ", s.Type)
	}
	for _, k := range s.Keys {
		fmt.Fprintf(&b, "--from-literal=%s=... ", k)
	}
	return b.String()
}

// secretPath is where the guide suggests a replacement: beside the export,
// never inside it.
func secretPath(s SecretRef, _ Options, kind string) string {
	return fmt.Sprintf("secrets/%s/%s-%s.yaml", s.Namespace, kind, fileName(s.Name))
}
