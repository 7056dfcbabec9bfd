// Command etcd runs an embedded single-member etcd for kbackup's test
// clusters. It listens on loopback ports chosen by the kernel (port 0), so
// parallel tests never race for a port, and writes the client URL to
// -ready-file once etcd serves requests.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory for etcd's data (required)")
	readyFile := flag.String("ready-file", "", "file that receives the client URL once etcd is ready (required)")
	flag.Parse()
	if *dataDir == "" || *readyFile == "" {
		log.Fatal("usage: etcd -data-dir DIR -ready-file FILE")
	}

	cfg := embed.NewConfig()
	cfg.Dir = *dataDir
	cfg.LogLevel = "error"
	loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{loopback}
	cfg.AdvertiseClientUrls = []url.URL{loopback}
	cfg.ListenPeerUrls = []url.URL{loopback}
	cfg.AdvertisePeerUrls = []url.URL{{Scheme: "http", Host: "127.0.0.1:2380"}}
	cfg.InitialCluster = cfg.Name + "=http://127.0.0.1:2380"
	// Test data is thrown away after each test: durability costs time and
	// buys nothing here.
	cfg.UnsafeNoFsync = true

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("starting etcd: %v", err)
	}
	defer e.Close()

	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		log.Fatal("etcd did not become ready within 60s")
	}
	clientURL := "http://" + e.Clients[0].Addr().String()
	if err := os.WriteFile(*readyFile+".tmp", []byte(clientURL), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(*readyFile+".tmp", *readyFile); err != nil {
		log.Fatal(err)
	}
	fmt.Println(clientURL)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-stop:
	case err := <-e.Err():
		log.Fatalf("etcd: %v", err)
	}
}
