# The kubectl-kbackup image: what Terraform's scheduled CronJobs and
# `kubectl kbackup serve` run. A static binary on distroless, as a non-root
# user, with nothing else in it: no shell, no package manager. The container
# needs no writable root filesystem (run it with readOnlyRootFilesystem: true).
#
#   make image                      # builds kbackup/kubectl-kbackup:<version>
#   docker run --rm kbackup/kubectl-kbackup:<version> version

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a change of source does not download them again.
COPY go.work go.work.sum ./
COPY core/go.mod core/go.sum core/
COPY kubectl-kbackup/go.mod kubectl-kbackup/go.sum kubectl-kbackup/
COPY terraform-provider/go.mod terraform-provider/go.sum terraform-provider/
RUN cd kubectl-kbackup && go mod download
COPY core core
COPY kubectl-kbackup kubectl-kbackup
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ARG BUILD_DATE=1970-01-01T00:00:00Z
RUN cd kubectl-kbackup && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -buildid= -X github.com/kbackup/kbackup/core/version.Version=${VERSION} -X github.com/kbackup/kbackup/core/version.Commit=${COMMIT} -X github.com/kbackup/kbackup/core/version.BuildDate=${BUILD_DATE}" \
    -o /out/kubectl-kbackup .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kubectl-kbackup /kubectl-kbackup
COPY LICENSE /LICENSE
# 65532 is distroless' nonroot user; numeric, so that Kubernetes'
# runAsNonRoot can check it.
USER 65532:65532
ENTRYPOINT ["/kubectl-kbackup"]
