package postgres

import (
	"context"

	"github.com/hookd/hookd"
)

// WriteMessages writes the calls (msgs[i], deliveries[i]) as one ingest batch, as if
// they had been queued together, and returns each call's outcome. It lets tests
// build a batch's content exactly instead of hoping that concurrent calls meet.
func WriteMessages(s *Store, ctx context.Context, msgs []*hookd.Message, deliveries [][]*hookd.Delivery) ([]*hookd.Message, []error) {
	ops := make([]*createOp, len(msgs))
	for i, m := range msgs {
		ops[i] = &createOp{ctx: ctx, msg: m, deliveries: deliveries[i], done: make(chan struct{})}
	}
	s.writeMessages(ops)
	got, errs := make([]*hookd.Message, len(ops)), make([]error, len(ops))
	for i, op := range ops {
		<-op.done
		got[i], errs[i] = op.prev, op.err
		if op.err == nil {
			got[i] = op.msg
		}
	}
	return got, errs
}
