package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/minio-go/v7"
)

// ErrTooLarge: an object is larger than its reader accepts. A repository is
// untrusted input, and readers bound what they take of it before they hold
// it.
var ErrTooLarge = errors.New("larger than expected")

// limitedGetter is a Backend that reads at most a given number of bytes of
// an object, without holding more.
type limitedGetter interface {
	getAtMost(ctx context.Context, key string, limit int64) ([]byte, error)
}

// GetAtMost returns the whole object, as Get does, but fails with
// ErrTooLarge (in an *OpError naming the key) once it holds more than limit
// bytes, having read no more than limit+1 of them. A backend wrapped by
// another (tests' counters) that does not pass the limit on is read whole
// and then checked.
func GetAtMost(ctx context.Context, b Backend, key string, limit int64) ([]byte, error) {
	if l, ok := b.(limitedGetter); ok {
		return l.getAtMost(ctx, key, limit)
	}
	data, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &OpError{Op: opRead, Key: key, Location: b.String(), Err: tooLarge(limit)}
	}
	return data, nil
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
}

// readAtMost reads r to its end into a buffer, refusing more than limit
// bytes. sizeHint, when positive, is what the object's metadata says it
// holds: the buffer starts that large when it is within the limit.
func readAtMost(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	if sizeHint > limit {
		return nil, tooLarge(limit)
	}
	var buf bytes.Buffer
	if sizeHint > 0 {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, tooLarge(limit)
	}
	return buf.Bytes(), nil
}

func (b *localBackend) getAtMost(ctx context.Context, key string, limit int64) ([]byte, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, b.fail(opRead, key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.fail(opRead, key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, b.fail(opRead, key, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, b.fail(opRead, key, err)
	}
	if info.IsDir() {
		return nil, b.fail(opRead, key, os.ErrNotExist)
	}
	data, err := readAtMost(f, limit, info.Size())
	if err != nil {
		return nil, b.fail(opRead, key, err)
	}
	return data, nil
}

func (b *s3Backend) getAtMost(ctx context.Context, key string, limit int64) ([]byte, error) {
	var data []byte
	err := b.readAtMost(ctx, key, limit, func(r io.Reader, size int64) (err error) {
		data, err = readAtMost(r, limit, size)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// readAtMost reads the object key through read, refusing it when it holds
// more than limit bytes. read gets the object's body and its stated size;
// it runs again when the call is retried.
func (b *s3Backend) readAtMost(ctx context.Context, key string, limit int64, read func(r io.Reader, size int64) error) error {
	// refused is set when the object is too large: an answer about the
	// object, which must neither be retried nor count against the storage
	// in the circuit breaker.
	var refused error
	err := b.call(ctx, opRead, key, func(ctx context.Context) error {
		refused = nil
		opts, err := b.getOptions(key)
		if err != nil {
			return err
		}
		obj, err := b.client.GetObject(ctx, b.bucket, key, opts)
		if err != nil {
			return err
		}
		defer obj.Close()
		info, err := obj.Stat()
		if err != nil {
			return err
		}
		if info.Size > limit {
			refused = tooLarge(limit)
			return nil
		}
		err = read(progressReader{obj, progressFrom(ctx)}, info.Size)
		if errors.Is(err, ErrTooLarge) {
			refused = err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return b.opError(opRead, key, refused)
	}
	return nil
}

// fileGetter is a Backend that copies at most a given number of bytes of an
// object into a file, without holding the object in memory.
type fileGetter interface {
	getAtMostToFile(ctx context.Context, key string, limit int64, f *os.File) (int64, error)
}

// GetAtMostToFile writes the object into f, from f's start (f is truncated
// first), as GetAtMost reads it: it fails with ErrTooLarge (in an *OpError
// naming the key) once more than limit bytes came, having written no more
// than limit+1 of them. It returns the object's size. Readers of large
// objects use it to hold them on disk rather than in memory. A backend
// wrapped by another that does not pass it on is read whole with GetAtMost,
// then written.
func GetAtMostToFile(ctx context.Context, b Backend, key string, limit int64, f *os.File) (int64, error) {
	if g, ok := b.(fileGetter); ok {
		return g.getAtMostToFile(ctx, key, limit, f)
	}
	data, err := GetAtMost(ctx, b, key, limit)
	if err != nil {
		return 0, err
	}
	if err := rewind(f); err != nil {
		return 0, err
	}
	n, err := f.Write(data)
	return int64(n), err
}

func rewind(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// copyAtMost copies r into f from its start, refusing more than limit
// bytes.
func copyAtMost(f *os.File, r io.Reader, limit int64) (int64, error) {
	if err := rewind(f); err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if err != nil {
		return n, err
	}
	if n > limit {
		return n, tooLarge(limit)
	}
	return n, nil
}

func (b *localBackend) getAtMostToFile(ctx context.Context, key string, limit int64, out *os.File) (int64, error) {
	p, err := b.path(key)
	if err != nil {
		return 0, b.fail(opRead, key, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, b.fail(opRead, key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, b.fail(opRead, key, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, b.fail(opRead, key, err)
	}
	if info.IsDir() {
		return 0, b.fail(opRead, key, os.ErrNotExist)
	}
	if info.Size() > limit {
		return 0, b.fail(opRead, key, tooLarge(limit))
	}
	n, err := copyAtMost(out, f, limit)
	if err != nil {
		return 0, b.fail(opRead, key, err)
	}
	return n, nil
}

func (b *s3Backend) getAtMostToFile(ctx context.Context, key string, limit int64, f *os.File) (int64, error) {
	var n int64
	err := b.readAtMost(ctx, key, limit, func(r io.Reader, _ int64) (err error) {
		n, err = copyAtMost(f, r, limit)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// filePutter is a Backend that uploads an object from a file, without
// holding it in memory.
type filePutter interface {
	putFile(ctx context.Context, key string, f *os.File, size int64) error
}

// PutFile writes the first size bytes of f as the object key, as Put writes
// data: writers of large objects keep them in a file rather than in memory.
// A backend wrapped by another that does not pass it on gets the bytes
// read into memory and Put.
func PutFile(ctx context.Context, b Backend, key string, f *os.File, size int64) error {
	if p, ok := b.(filePutter); ok {
		return p.putFile(ctx, key, f, size)
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return &OpError{Op: opWrite, Key: key, Location: b.String(), Err: err}
	}
	return b.Put(ctx, key, data)
}

func (b *s3Backend) putFile(ctx context.Context, key string, f *os.File, size int64) error {
	return b.callSending(ctx, opWrite, key, size, func(ctx context.Context) error {
		sse, err := b.opts.Encryption.forWrite(key)
		if err != nil {
			return err
		}
		// One PUT, as Put sends it; minio-go reads the section twice
		// (to sign it, then to send it), seeking back between.
		_, err = b.client.PutObject(ctx, b.bucket, key, io.NewSectionReader(f, 0, size), size,
			minio.PutObjectOptions{ContentType: contentType(key), DisableMultipart: true, ServerSideEncryption: sse})
		return err
	})
}
