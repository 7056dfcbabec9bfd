package testenv

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The faults of fleet tests: an API server that stops, an API server behind
// a slow network, and a second S3 server for a fallback repository.

// StopAPIServer stops the cluster's kube-apiserver and leaves etcd
// running: the cluster stops answering, as a control plane that went
// down does. Its port then refuses connections.
func (c *Cluster) StopAPIServer() { c.apiserver.stop() }

// StartS3Server starts an S3 server of its own for t, beside the
// environment's, with the credentials of like (so that one set of AWS_*
// variables opens both), and stops it when t ends: a second endpoint, for
// fallback repositories.
func StartS3Server(t testing.TB, like *S3Server) *S3Server {
	t.Helper()
	s, err := startS3WithKeys(context.Background(), filepath.Join(t.TempDir(), "s3"), like.AccessKey, like.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// LatencyProxy is a TCP proxy on a loopback port that forwards to a target
// and holds every chunk the target sends back for Delay before passing it
// on: a server across a slow network. Chunks keep their order and are
// delayed each from its own arrival, so a long answer is late by Delay, not
// by Delay per chunk.
type LatencyProxy struct {
	// Addr is the proxy's host:port.
	Addr   string
	target string
	delay  time.Duration

	l    net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	cons []net.Conn
}

// StartLatencyProxy starts a proxy to target (host:port) for t, closed when
// t ends.
func StartLatencyProxy(t testing.TB, target string, delay time.Duration) *LatencyProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &LatencyProxy{Addr: l.Addr().String(), target: target, delay: delay, l: l}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy and drops its connections.
func (p *LatencyProxy) Close() {
	_ = p.l.Close()
	p.mu.Lock()
	for _, c := range p.cons {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *LatencyProxy) track(c net.Conn) {
	p.mu.Lock()
	p.cons = append(p.cons, c)
	p.mu.Unlock()
}

func (p *LatencyProxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client)
		p.track(server)
		p.wg.Go(func() {
			_, _ = io.Copy(server, client)
			_ = server.Close()
		})
		p.wg.Go(func() {
			p.delayed(client, server)
			_ = client.Close()
		})
	}
}

// delayed copies from src to dst, each chunk Delay after it was read.
func (p *LatencyProxy) delayed(dst, src net.Conn) {
	type chunk struct {
		data []byte
		due  time.Time
	}
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{data: buf[:n], due: time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			_ = src.Close()
			for range queue {
			}
			return
		}
	}
}
