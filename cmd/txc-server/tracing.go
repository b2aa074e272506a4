package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newTracerProvider returns the provider of the coordinator's spans when
// the environment configures an OTLP exporter (OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, with the other OTEL_EXPORTER_OTLP_*
// variables of the OpenTelemetry specification, read by the exporter), and
// nil otherwise: without an exporter the coordinator makes no span at all.
// OTEL_TRACES_EXPORTER=none turns tracing off whatever else is set. The
// spans carry service.name "txc-server" and the node name.
func newTracerProvider(ctx context.Context, getenv func(string) string, node string) (*sdktrace.TracerProvider, error) {
	if getenv("OTEL_TRACES_EXPORTER") == "none" ||
		(getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return nil, nil
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "txc-server"), attribute.String("txc.node", node))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// shutdownTracing flushes the spans still buffered, for at most 5 s.
func shutdownTracing(ctx context.Context, tp *sdktrace.TracerProvider, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		log.Warn("tracing: flushing spans at exit failed", "err", err)
	}
}
