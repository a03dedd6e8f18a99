package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is hookd's OpenAPI document: the Svix paths hookd implements, with
// hookd's extension fields. A test keeps it and the routes in step.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns hookd's OpenAPI document (JSON).
func OpenAPI() []byte {
	return append([]byte(nil), openAPIDoc...)
}

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
	return nil
}
