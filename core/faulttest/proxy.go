// Package faulttest holds kbackup's fault test: backups of real clusters
// running concurrently with deletes and garbage collection while the S3
// server is killed and restarted and a TCP proxy in front of it drops,
// delays and cuts connections. This file is the proxy.
package faulttest

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// FaultCounts say what a Proxy did.
type FaultCounts struct {
	Connections, Dropped, Delayed, Cut, Slowed int64
}

// Proxy forwards TCP connections to a target and, while faults are on,
// drops some connections at once, delays others before they reach the
// target, slows others down for their whole life (each chunk waits), and
// cuts others after a random number of bytes, in the middle of a request
// or a response.
type Proxy struct {
	ln     net.Listener
	target string
	faults atomic.Bool

	connections, dropped, delayed, cut, slowed atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewProxy listens on a loopback port and forwards to target (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetFaults turns fault injection on or off for new connections.
func (p *Proxy) SetFaults(on bool) { p.faults.Store(on) }

// Counts returns what the proxy did so far.
func (p *Proxy) Counts() FaultCounts {
	return FaultCounts{Connections: p.connections.Load(), Dropped: p.dropped.Load(), Delayed: p.delayed.Load(), Cut: p.cut.Load(), Slowed: p.slowed.Load()}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.connections.Add(1)
		p.wg.Go(func() { p.handle(c) })
	}
}

func (p *Proxy) handle(client net.Conn) {
	p.track(client, true)
	defer p.track(client, false)
	defer client.Close()
	cutAfter := int64(-1)
	var lag time.Duration
	if p.faults.Load() {
		switch r := rand.Float64(); {
		case r < 0.04:
			p.dropped.Add(1)
			return
		case r < 0.14:
			p.delayed.Add(1)
			time.Sleep(time.Duration(50+rand.IntN(700)) * time.Millisecond)
		case r < 0.20:
			p.cut.Add(1)
			cutAfter = int64(rand.IntN(16 << 10))
		case r < 0.35:
			p.slowed.Add(1)
			lag = time.Duration(20+rand.IntN(200)) * time.Millisecond
		}
	}
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return // the server is down: the client sees the connection close
	}
	p.track(server, true)
	defer p.track(server, false)
	defer server.Close()
	var done sync.WaitGroup
	pipe := func(dst, src net.Conn, limit int64) {
		defer done.Done()
		var r io.Reader = src
		if limit >= 0 {
			r = io.LimitReader(src, limit)
		}
		if lag > 0 {
			r = lagReader{r, lag}
		}
		_, _ = io.Copy(dst, r)
		// Either direction ending ends the connection, as a reset
		// would.
		dst.Close()
		src.Close()
	}
	done.Add(2)
	// A cut falls on the request or on the response.
	if rand.IntN(2) == 0 {
		go pipe(server, client, cutAfter)
		go pipe(client, server, -1)
	} else {
		go pipe(server, client, -1)
		go pipe(client, server, cutAfter)
	}
	done.Wait()
}

// lagReader waits before each read: a slow link.
type lagReader struct {
	r   io.Reader
	lag time.Duration
}

func (l lagReader) Read(p []byte) (int, error) {
	time.Sleep(l.lag)
	return l.r.Read(p)
}
