package ui

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// Confirm asks a yes/no question on w and reads the answer from in: only y
// or yes (any case) is yes.
func Confirm(in *bufio.Reader, w io.Writer, question string) (bool, error) {
	fmt.Fprintf(w, "%s [y/N]: ", question)
	answer, err := in.ReadString('\n')
	if err != nil && answer == "" {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// PickerSize is how many recent backups PickBackup offers.
const PickerSize = 10

// PickBackup lists the most recent backups (newest first, numbered from 1)
// on w and reads the number of the one to use from in; an empty answer
// takes the newest. manifests are oldest first, as repo.ListBackups
// returns them; Failed backups are not offered.
func PickBackup(in *bufio.Reader, w io.Writer, s *Styles, cluster string, manifests []*repo.Manifest, now time.Time) (*repo.Manifest, error) {
	var offered []*repo.Manifest
	for i := len(manifests) - 1; i >= 0 && len(offered) < PickerSize; i-- {
		if manifests[i].Phase != repo.PhaseFailed {
			offered = append(offered, manifests[i])
		}
	}
	if len(offered) == 0 {
		return nil, fmt.Errorf("cluster %s has no backup to restore that did not fail: %w", cluster, storage.ErrNotFound)
	}
	fmt.Fprintf(w, "Recent backups of cluster %s:\n", cluster)
	t := &Table{Headers: []string{"#", "ID", "PHASE", "OBJECTS", "NAMESPACES", "AGE"}}
	for i, m := range offered {
		t.AddRow(strconv.Itoa(i+1), m.ID, s.Status(string(m.Phase)), fmt.Sprint(m.Stats.Objects), fmt.Sprint(m.Stats.Namespaces), Age(m.StartedAt, now))
	}
	if err := t.Render(w, s); err != nil {
		return nil, err
	}
	for tries := 0; tries < 3; tries++ {
		fmt.Fprintf(w, "Restore which backup? [1-%d, Enter for 1]: ", len(offered))
		answer, err := in.ReadString('\n')
		answer = strings.TrimSpace(answer)
		if err != nil && answer == "" {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no backup chosen (end of input)")
			}
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		if answer == "" {
			return offered[0], nil
		}
		if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(offered) {
			return offered[n-1], nil
		}
		for _, m := range offered {
			if m.ID == answer {
				return m, nil
			}
		}
		fmt.Fprintf(w, "%q is not one of the numbers 1 to %d or an ID above.\n", answer, len(offered))
	}
	return nil, errors.New("no backup chosen after three answers; give the backup's ID or latest as an argument")
}
