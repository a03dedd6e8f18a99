package server

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/delivery"
)

// deliveryState holds the delivery engine of a running server.
type deliveryState struct {
	d      atomic.Pointer[delivery.Dispatcher]
	cancel context.CancelFunc
	done   chan error
}

// startDelivery starts the delivery workers. They run until stopDelivery, not until
// ctx is done: ctx only bounds the start.
func (s *Server) startDelivery(ctx context.Context) (err error) {
	var eg delivery.Egress
	if s.cfg.Proxy != "" {
		if eg.Proxy, err = delivery.ParseProxy(s.cfg.Proxy); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	}
	for _, a := range s.cfg.SourceAddrs {
		// Binding fails at dial time otherwise, on every delivery.
		ln, err := net.Listen("tcp", net.JoinHostPort(a.String(), "0"))
		if err != nil {
			return fmt.Errorf("source-addr: %s is not an address of this host: %w", a, err)
		}
		ln.Close()
		eg.SourceAddrs = append(eg.SourceAddrs, a)
	}
	d, err := delivery.New(delivery.Config{
		Store:                    s.store,
		Now:                      s.now,
		IDs:                      hookd.IDGen{Now: s.now},
		Logger:                   s.log,
		Workers:                  s.cfg.Workers,
		EndpointConcurrency:      s.cfg.EndpointConcurrency,
		RetrySchedule:            s.cfg.RetrySchedule,
		RequestTimeout:           s.cfg.RequestTimeout,
		MaxResponseBytes:         s.cfg.ResponseBodyCap,
		MaxAttemptHeaderBytes:    s.cfg.AttemptHeadersCap,
		SvixHeaders:              s.cfg.SvixHeaders,
		AllowPrivate:             s.cfg.AllowPrivate,
		AllowCIDRs:               s.cfg.AllowCIDRs,
		Egress:                   eg,
		RequireHTTPS:             s.cfg.RequireHTTPS,
		DisableAfter:             s.cfg.DisableAfter,
		FailingAfter:             s.cfg.FailingAfter,
		CircuitFailures:          circuitFailures(s.cfg.CircuitFailures),
		CircuitBackoff:           s.cfg.CircuitBackoff,
		CircuitMaxBackoff:        s.cfg.CircuitMaxBackoff,
		OperationalWebhookURL:    s.cfg.OperationalWebhookURL,
		OperationalWebhookSecret: s.cfg.OperationalWebhookSecret,
		Registerer:               s.registry,
		Relay:                    s.relay,
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.dlv.cancel = cancel
	s.dlv.done = make(chan error, 1)
	s.dlv.d.Store(d)
	go func() { s.dlv.done <- d.Run(runCtx) }()
	return nil
}

// stopDelivery stops the delivery workers, waiting for attempts in flight.
func (s *Server) stopDelivery() {
	if s.dlv.cancel == nil {
		return
	}
	s.dlv.cancel()
	if err := <-s.dlv.done; err != nil {
		s.log.Error("delivery stopped", "err", err)
	}
	s.dlv.cancel = nil
}

// emitOperational sends an operational webhook event.
func (s *Server) emitOperational(ctx context.Context, eventType string, data any) {
	d := s.dlv.d.Load()
	if d == nil {
		return
	}
	if err := d.Emit(ctx, eventType, data); err != nil {
		s.log.Error("emit operational event", "type", eventType, "err", err)
	}
}

// localDispatcher gives the API the running dispatcher's Take, Deliver and Abandon;
// before the dispatcher starts it takes nothing, so deliveries wait to be claimed.
type localDispatcher struct{ s *Server }

func (l localDispatcher) Take(msg *hookd.Message, ds []*hookd.Delivery) []*hookd.Delivery {
	if d := l.s.dlv.d.Load(); d != nil {
		return d.Take(msg, ds)
	}
	return nil
}

func (l localDispatcher) Deliver(taken []*hookd.Delivery) {
	if d := l.s.dlv.d.Load(); d != nil {
		d.Deliver(taken)
	}
}

func (l localDispatcher) Abandon(taken []*hookd.Delivery) {
	if d := l.s.dlv.d.Load(); d != nil {
		d.Abandon(taken)
	}
}

// forgetEndpoint makes the running dispatcher read the endpoint again before its next
// delivery, after a change through the API (a rotated secret, a new URL).
func (s *Server) forgetEndpoint(appID, endpointID string) {
	if d := s.dlv.d.Load(); d != nil {
		d.ForgetEndpoint(appID, endpointID)
	}
}

// circuitFailures maps the server's "0 turns circuit breaking off" to the
// dispatcher's negative value.
func circuitFailures(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
