package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/hookd/hookd"
)

// maxPageBytes bounds the payload bytes one list page carries, whatever its limit and
// the payloads' sizes: a page that would carry more ends early, with done false and an
// iterator to the rest, as a page of fewer rows would. It keeps the memory of a list
// request bounded (250 payloads of 1 MiB would otherwise be read, copied and encoded
// at once). A single row always fits.
const maxPageBytes = 4 << 20

// firstChunkRows is how many rows a list reads first, before it knows how large they
// are.
const firstChunkRows = 4

// fetchPage reads the rows of page p, with the probe row (see probe), in chunks sized
// by the rows read so far so that it never holds much more than maxPageBytes of
// payload; size gives a row's payload bytes, key its iterator. cut reports that the
// page ended early for its bytes: it is not the last one.
func fetchPage[R any](p hookd.Page, key func(R) string, size func(R) int, fetch func(hookd.Page) ([]R, error)) (rows []R, cut bool, err error) {
	want := probe(p).Limit
	q := p
	q.Limit = min(want, firstChunkRows)
	total := 0
	for {
		got, err := fetch(q)
		if err != nil {
			return nil, false, err
		}
		for _, r := range got {
			n := size(r)
			if len(rows) > 0 && total+n > maxPageBytes {
				return rows, true, nil
			}
			rows = append(rows, r)
			total += n
		}
		if len(got) < q.Limit || len(rows) >= want {
			return rows, false, nil
		}
		q.Iterator = key(rows[len(rows)-1])
		avg := max(total/len(rows), 1)
		q.Limit = min(want-len(rows), max(1, (maxPageBytes-total)/avg+1))
	}
}

// boundedPage lists page p through fetchPage and builds the answer.
func boundedPage[R, T any](p hookd.Page, key func(R) string, size func(R) int, fetch func(hookd.Page) ([]R, error), conv func(R) T) (listOut[T], error) {
	rows, cut, err := fetchPage(p, key, size, fetch)
	if err != nil {
		return listOut[T]{}, err
	}
	out := paginate(p, rows, key, conv)
	if cut {
		out.Done = false
	}
	return out, nil
}

func messageBytes(m *hookd.Message) int {
	if m == nil {
		return 0
	}
	return len(m.Payload)
}

// writeList answers 200 with a list page, encoding one row at a time: the answer's
// bytes are never all in memory at once beside the rows they come from. The output is
// what writeJSON would write.
func writeList[T any](w http.ResponseWriter, out listOut[T]) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	buf.WriteString(`{"data":[`)
	for i := range out.Data {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(out.Data[i]); err != nil {
			// Rows are plain data; this cannot happen. End the answer malformed rather
			// than pretend it is complete.
			_, _ = w.Write(buf.Bytes())
			return
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		buf.Reset()
	}
	tail, _ := json.Marshal(struct {
		Done     bool    `json:"done"`
		Iterator *string `json:"iterator"`
	}{out.Done, out.Iterator})
	buf.WriteString("],")
	buf.Write(tail[1:])
	_, _ = w.Write(buf.Bytes())
}
