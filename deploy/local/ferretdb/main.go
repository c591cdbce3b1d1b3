// Command localferretdb runs FerretDB (MongoDB wire protocol on SQLite) embedded as a library.
// FerretDB's own CLI panics when built with `go install` (it wants a version.txt), so the
// project embeds it: `localferretdb -listen 127.0.0.1:27017 -dir /abs/data/dir`.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", "", "existing directory for the SQLite databases")
	flag.Parse()
	// FerretDB's live heap is a few MB, so Go's default (collect when it doubles) collects every few
	// requests under load: ~15% of its CPU in a mixed workload. Five times the live heap costs MBs.
	// GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		log.Fatal(err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/", // must be file: + existing dir + trailing slash
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("ferretdb listening on %s, data in %s", *listen, abs)
	f.Run(ctx)
}
