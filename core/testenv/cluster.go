package testenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Cluster is one real Kubernetes control plane: an etcd and a kube-apiserver
// with RBAC, an admin token and a service-account signing key.
type Cluster struct {
	// Name is the cluster's name and the name of its kubeconfig context.
	Name string
	// Server is the API server URL, https://127.0.0.1:<port>.
	Server string
	// CAData is the PEM CA bundle that verifies Server.
	CAData []byte
	// AdminToken authenticates as a member of system:masters.
	AdminToken string
	// KubeconfigPath is a kubeconfig with one context, Name, for the admin.
	KubeconfigPath string

	dir       string
	etcd      *process
	apiserver *process
}

// Config returns a new admin rest.Config for the cluster. Client-side rate
// limiting is off: tests create fixtures in bulk.
func (c *Cluster) Config() *rest.Config {
	return &rest.Config{
		Host:            c.Server,
		BearerToken:     c.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		QPS:             -1,
	}
}

// ConfigForToken returns a rest.Config that authenticates with token, for
// tests of what another identity may and may not do.
func (c *Cluster) ConfigForToken(token string) *rest.Config {
	cfg := c.Config()
	cfg.BearerToken = token
	return cfg
}

// Clientset returns an admin clientset for the cluster.
func (c *Cluster) Clientset() (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(c.Config())
}

// Kubeconfig returns the cluster's admin kubeconfig with one context named
// contextName.
func (c *Cluster) Kubeconfig(contextName string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	c.addTo(cfg, contextName)
	cfg.CurrentContext = contextName
	return cfg
}

func (c *Cluster) addTo(cfg *clientcmdapi.Config, contextName string) {
	cluster := clientcmdapi.NewCluster()
	cluster.Server = c.Server
	cluster.CertificateAuthorityData = c.CAData
	user := clientcmdapi.NewAuthInfo()
	user.Token = c.AdminToken
	ctx := clientcmdapi.NewContext()
	ctx.Cluster = contextName
	ctx.AuthInfo = contextName + "-admin"
	cfg.Clusters[contextName] = cluster
	cfg.AuthInfos[ctx.AuthInfo] = user
	cfg.Contexts[contextName] = ctx
}

// stop stops the API server, then etcd.
func (c *Cluster) stop() {
	c.apiserver.stop()
	c.etcd.stop()
}

func randomToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// startCluster starts etcd and kube-apiserver for one cluster in dir and
// waits until the API server is ready and its system namespaces exist.
func startCluster(ctx context.Context, dir, name string) (_ *Cluster, err error) {
	apiserverBin, err := BinaryPath(BinKubeAPIServer)
	if err != nil {
		return nil, err
	}
	etcdBin, err := BinaryPath(BinEtcd)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, dir: dir, AdminToken: randomToken()}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()

	etcdURL, err := c.startEtcd(ctx, etcdBin)
	if err != nil {
		return nil, err
	}

	pki, err := newClusterPKI(dir, name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	c.CAData = pki.caPEM
	tokenFile := filepath.Join(dir, "tokens.csv")
	tokens := c.AdminToken + ",kbackup-admin,kbackup-admin-uid,system:masters\n"
	if err := os.WriteFile(tokenFile, []byte(tokens), 0o600); err != nil {
		return nil, err
	}

	// The port is chosen before kube-apiserver binds it, so another process
	// may take it first: try again with a new port when that happens.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.Server = "https://" + hostPort(port)
		logPath := filepath.Join(dir, "kube-apiserver.log")
		c.apiserver, err = startProcess("kube-apiserver of cluster "+name, logPath, nil, apiserverBin,
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			// A loopback advertise address is refused by the endpoint
			// reconciler, and nothing here needs the kubernetes Endpoints.
			"--endpoint-reconciler-type=none",
			"--secure-port="+strconv.Itoa(port),
			"--cert-dir="+filepath.Join(dir, "certs"),
			"--tls-cert-file="+pki.servingCert,
			"--tls-private-key-file="+pki.servingKey,
			"--token-auth-file="+tokenFile,
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file="+pki.saSigningKey,
			"--service-account-signing-key-file="+pki.saSigningKey,
			"--service-cluster-ip-range=10.0.0.0/24",
			"--allow-privileged=true",
			"--v=1",
		)
		if err != nil {
			return nil, err
		}
		err = c.apiserver.waitReady(ctx, 90*time.Second, c.checkReady)
		if err == nil {
			break
		}
		if attempt < attempts && logMentions(logPath, "address already in use") {
			c.apiserver.stop()
			continue
		}
		return nil, err
	}

	kubeconfig := c.Kubeconfig(name)
	c.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, c.KubeconfigPath); err != nil {
		return nil, fmt.Errorf("writing kubeconfig of cluster %s: %w", name, err)
	}
	return c, nil
}

func (c *Cluster) startEtcd(ctx context.Context, bin string) (string, error) {
	readyFile := filepath.Join(c.dir, "etcd.url")
	p, err := startProcess("etcd of cluster "+c.Name, filepath.Join(c.dir, "etcd.log"), nil, bin,
		"-data-dir", filepath.Join(c.dir, "etcd"), "-ready-file", readyFile)
	if err != nil {
		return "", err
	}
	c.etcd = p
	var url string
	err = p.waitReady(ctx, 60*time.Second, func(context.Context) error {
		data, err := os.ReadFile(readyFile)
		if err != nil {
			return err
		}
		url = string(data)
		return nil
	})
	return url, err
}

// checkReady passes once /readyz answers ok and the objects the API server
// creates itself exist: the system namespaces (kbackup identifies a cluster
// by kube-system's UID) and, last of them, the kubernetes Service, so that
// a test finds a cluster that no longer changes on its own.
func (c *Cluster) checkReady(ctx context.Context) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CAData) {
		return errors.New("test CA does not parse")
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/readyz", "/api/v1/namespaces/kube-system", "/api/v1/namespaces/default", "/api/v1/namespaces/default/services/kubernetes"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Server+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
	}
	return nil
}
