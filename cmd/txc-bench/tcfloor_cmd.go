package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc/server"
)

// floorCounts is what a floor server did; printed as one JSON line when
// it stops.
type floorCounts struct {
	Begun   int64 `json:"begun"`
	Syncs   int64 `json:"syncs"`
	Synced  int64 `json:"synced"`
	Results int64 `json:"results"`
}

// tcFloorServerCommand serves the floor of tc-2branch (see floor): run
// tc-2branch against it, and compare its CPU, system calls and context
// switches per transaction with txc-server's (scripts/floor.sh).
func tcFloorServerCommand() *cobra.Command {
	var (
		listen, dir string
		inline      bool
	)
	cmd := &cobra.Command{
		Use:    "tc-floor-server",
		Short:  "the coordinator's I/O for tc-2branch without its logic: gRPC streams, one fdatasync per waited reply",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			lis, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready", lis.Addr())
			counts, err := serveFloor(ctx, lis, dir, inline)
			if err != nil {
				return err
			}
			line, _ := json.Marshal(counts)
			fmt.Fprintln(cmd.OutOrStdout(), string(line))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "gRPC address")
	f.StringVar(&dir, "dir", os.TempDir(), "directory of the synced file (floor.log, 64 MiB)")
	f.BoolVar(&inline, "inline", false, "sync and reply on the stream's reader instead of a syncer goroutine")
	return cmd
}

// serveFloor serves a floor on lis until ctx is done.
func serveFloor(ctx context.Context, lis net.Listener, dir string, inline bool) (floorCounts, error) {
	log, err := openSyncedFile(dir, 64<<20)
	if err != nil {
		return floorCounts{}, err
	}
	defer log.close()
	f := newFloor(log, inline)
	defer f.stop()
	g := grpc.NewServer(server.TransportOptions(server.DefaultMaxMessageSize, server.DefaultMaxStreamsPerConn)...)
	txcv1.RegisterCoordinatorServer(g, f)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	g.Stop()
	if e, ok := f.failed.Load().(error); ok && err == nil {
		err = e
	}
	return floorCounts{Begun: f.begun.Load(), Syncs: f.syncs.Load(), Synced: f.synced.Load(), Results: f.results.Load()}, err
}
