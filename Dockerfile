# syntax=docker/dockerfile:1

# paygate container image: a static Go binary on distroless, non-root, no shell.
#
# Base images are pinned to exact tags, not digests: this file was written
# where no registry could be queried, and a digest copied from elsewhere could
# not be checked. To pin by digest, look the tag's digest up once
# (`docker buildx imagetools inspect golang:1.26.10`, line "Digest:") and
# write it after the tag: FROM golang:1.26.10@sha256:…
# The Go version must be at least the one in go.mod (a test checks they agree).

# The build stage runs on the builder's own platform and cross-compiles, so a
# multi-arch build needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26.10 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# cmd/paygate/dockerfile_test.go builds the binary with exactly these flags
# and runs its healthcheck against a live server: keep the build on one line.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/paygate ./cmd/paygate
# A directory the non-root user owns, for an optional SQLite database.
RUN mkdir -p /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot"
# (65532); no shell, no package manager. Distroless publishes no versioned
# tags, only moving ones like this: the Debian release (12) is what the tag
# fixes, and a digest (as above) is the way to freeze it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/paygate /paygate
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
# Inside a container the server must listen on every interface; the SQLite
# default only serves `docker run` trials (production sets a postgres:// URL).
ENV PAYGATE_ADDR=0.0.0.0:8080 \
    PAYGATE_DATABASE_URL=sqlite:/data/paygate.db
USER 65532:65532
EXPOSE 8080
# Exec form: there is no shell. healthcheck asks this server's /readyz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/paygate", "healthcheck"]
ENTRYPOINT ["/paygate"]
CMD ["serve"]
