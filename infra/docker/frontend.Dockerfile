# syntax=docker/dockerfile:1
# The shop UI: built with Node, served by an unprivileged nginx that proxies /v1 (and
# its WebSocket) to the gateway. About 50 MB.
FROM node:20-bookworm-slim AS build
WORKDIR /ui
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npx vite build

FROM nginxinc/nginx-unprivileged:1.27-alpine
COPY infra/docker/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /ui/dist /usr/share/nginx/html
EXPOSE 8080
