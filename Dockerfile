# syntax=docker/dockerfile:1

# One image for every gamepipe command; the container's command picks the
# binary: `api` (the default), `worker`, `exporter`, `upstreamsim`,
# `gamepipe migrate`, ... See docker-compose.yml.

# The dashboard's charting library, from web/dashboard's lockfile
# (docs/dashboard.md, "Building the front end").
FROM node:20-alpine AS dashboard
WORKDIR /web
COPY web/dashboard/package.json web/dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
COPY --from=dashboard /web/node_modules/uplot/dist/uPlot.iife.min.js /web/node_modules/uplot/dist/uPlot.min.css \
    internal/dashboard/web/vendor/
# devrun and natsd are for `make run` on a developer machine, not for images.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/ ./cmd/... \
    && rm -f /out/devrun /out/natsd

FROM alpine:3.22
# ca-certificates: the workers call the real upstream APIs over HTTPS.
# tzdata: time zones for any zone-aware formatting.
RUN apk add --no-cache ca-certificates tzdata \
    && addgroup -S -g 10001 gamepipe \
    && adduser -S -D -H -u 10001 -G gamepipe gamepipe \
    && mkdir /data && chown gamepipe:gamepipe /data
COPY --from=build /out/ /usr/local/bin/
USER gamepipe
WORKDIR /data
ENV DATA_DIR=/data \
    LOG_FORMAT=json \
    HTTP_ADDR=:4000 \
    WORKER_HTTP_ADDR=:4001 \
    EXPORTER_HTTP_ADDR=:4002 \
    METRICS_ADDR=:4003
EXPOSE 4000 4001 4002 4003
CMD ["api"]
