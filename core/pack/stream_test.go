package pack

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// collect gathers what a document iterator yields, copying each document
// (ReadDocuments reuses its buffer).
func collect(seq func(func([]byte, error) bool)) ([]string, error) {
	var docs []string
	for doc, err := range seq {
		if err != nil {
			return docs, err
		}
		docs = append(docs, string(doc))
	}
	return docs, nil
}

var splitCases = []string{
	"",
	"---\n",
	"---\n---\n",
	"---\nA\n",
	"---\nA",
	"---\nA\n---\n",
	"---\nA\n---",
	"---\nA\n---\nB\n",
	"---\n\n---\nA\n",
	"---\nA\n---\n---\nB\n",
	"---\nline\n--- not a separator\n----\n ---\nB\n---\nC",
	"--",
	"---",
	"x---\nA\n",
	"\n---\nA\n",
	"---\r\nA\n",
	"---\n" + strings.Repeat("x", 200<<10) + "\n---\n" + strings.Repeat("y", 70<<10),
	strings.Repeat("z", 100<<10),
}

// ReadDocuments yields the documents Documents yields, and refuses what it
// refuses, whatever the lines' lengths and however the reader splits them.
func TestReadDocumentsSplitsAsDocuments(t *testing.T) {
	for _, content := range splitCases {
		checkSplitsAlike(t, content)
	}
}

func checkSplitsAlike(t *testing.T, content string) {
	t.Helper()
	want, wantErr := collect(Documents([]byte(content)))
	for _, r := range []io.Reader{strings.NewReader(content), iotest.OneByteReader(strings.NewReader(content))} {
		got, err := collect(ReadDocuments(r))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("content %.40q: error %v, Documents gave %v", content, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("content %.40q: %d documents, Documents gave %d", content, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("content %.40q: document %d is %.40q, Documents gave %.40q", content, i, got[i], want[i])
			}
		}
	}
}

// A failing reader's error comes out of the iterator.
func TestReadDocumentsReportsReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("---\nA\n---\n"), iotest.ErrReader(boom))
	docs, err := collect(ReadDocuments(r))
	if !errors.Is(err, boom) || len(docs) != 1 || docs[0] != "A\n" {
		t.Fatalf("got %q, %v; want document A, then boom", docs, err)
	}
}

func FuzzReadDocuments(f *testing.F) {
	for _, c := range splitCases {
		if len(c) < 1<<10 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		checkSplitsAlike(t, string(bytes.Clone(content)))
	})
}
