package backup_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// A ServiceAccount's token Secret is a live credential of the source
// cluster, which a restore never uses: the backup leaves it out, names it
// among the skipped objects with the reason, and stays Completed. Its
// value is in no pack; other Secrets are stored.
func TestServiceAccountTokensAreLeftOut(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("beta")
	cs, _ := cluster.Clientset()
	const ns = "sa-tokens"
	const token = "eyJhbGciOi-live-token-of-the-source-cluster"
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "builder-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "builder"}},
			Type:       corev1.SecretTypeServiceAccountToken,
			Data:       map[string][]byte{corev1.ServiceAccountTokenKey: []byte(token), "ca.crt": []byte("ca")},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "db-password"},
			Data:       map[string][]byte{"password": []byte("kept")},
		}, metav1.CreateOptions{})
		return err
	})

	tgt, _ := s3Storage(t)
	res, err := backup.Run(ctx, client(t, cluster.Config()), tgt.Chooser, backup.Options{
		ClusterName: "beta", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{ns}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Phase != repo.PhaseCompleted {
		t.Errorf("phase %s, want Completed: leaving a token out is policy, not a failure", m.Phase)
	}
	if len(m.Skipped) != 1 || m.Skipped[0].Name != "builder-token" || m.Skipped[0].Resource != "secrets" || m.Skipped[0].Namespace != ns ||
		!m.Skipped[0].ByPolicy || !strings.Contains(m.Skipped[0].Reason, "ServiceAccount token") {
		t.Errorf("skipped %+v; want secrets %s/builder-token, by policy, as a ServiceAccount token", m.Skipped, ns)
	}
	r := openRepo(t, tgt.Primary)
	objs := readBackup(t, r, m)
	if _, ok := objs["secrets "+ns+"/db-password"]; !ok {
		t.Errorf("Secret db-password is not in the backup; it holds %v", keys(objs))
	}
	if _, ok := objs["secrets "+ns+"/builder-token"]; ok {
		t.Error("the token Secret is in the backup")
	}
	if _, ok := objs["serviceaccounts "+ns+"/builder"]; !ok {
		t.Errorf("ServiceAccount builder is not in the backup; it holds %v", keys(objs))
	}
	for _, p := range m.Packs {
		content, err := r.ReadPack(ctx, p.PackRef)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(content, []byte(token)) || bytes.Contains(content, []byte(base64.StdEncoding.EncodeToString([]byte(token)))) {
			t.Errorf("pack %s holds the token's value", p.Key)
		}
	}
}
