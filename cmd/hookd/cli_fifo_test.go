package main

import "testing"

// TestCLIFIFO sets an endpoint's FIFO settings and a message's ordering key through
// the CLI.
func TestCLIFIFO(t *testing.T) {
	c := newCLIEnv(t)
	rc := newReceiver(t)
	c.ok(t, "app", "create", "--name", "Acme", "--uid", "acme")
	var ep struct {
		FIFO            bool   `json:"fifo"`
		FIFOOnExhausted string `json:"fifoOnExhausted"`
	}
	c.okJSON(t, &ep, "endpoint", "create", "--app", "acme", "--endpoint-url", rc.URL+"/hook", "--uid", "main", "--fifo")
	if !ep.FIFO || ep.FIFOOnExhausted != "skip" {
		t.Errorf("endpoint create --fifo: fifo %v, fifoOnExhausted %q; want true, skip", ep.FIFO, ep.FIFOOnExhausted)
	}
	c.okJSON(t, &ep, "endpoint", "update", "main", "--app", "acme", "--fifo-on-exhausted", "stop")
	if !ep.FIFO || ep.FIFOOnExhausted != "stop" {
		t.Errorf("endpoint update --fifo-on-exhausted stop: fifo %v, fifoOnExhausted %q; want true, stop", ep.FIFO, ep.FIFOOnExhausted)
	}
	c.fails(t, exitFailure, "fifoOnExhausted", "endpoint", "update", "main", "--app", "acme", "--fifo-on-exhausted", "never")
	var msg struct {
		OrderingKey *string `json:"orderingKey"`
	}
	c.okJSON(t, &msg, "message", "send", "--app", "acme", "--event-type", "a.b", "--payload", `{"k":1}`, "--ordering-key", "cust-1")
	if msg.OrderingKey == nil || *msg.OrderingKey != "cust-1" {
		t.Errorf("message send --ordering-key cust-1: orderingKey %v", msg.OrderingKey)
	}
}
