# syntax=docker/dockerfile:1
# The shop UI: built with Node, served by an unprivileged nginx that proxies /v1 (and
# its WebSocket) to the gateway. About 50 MB.
FROM node:20-bookworm-slim AS build
# The repository's layout, so that the UI finds infra/services.json where it is.
WORKDIR /repo/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY infra/services.json /repo/infra/services.json
COPY frontend/ ./
RUN npx vite build

FROM nginxinc/nginx-unprivileged:1.27-alpine
COPY infra/docker/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /repo/frontend/dist /usr/share/nginx/html
EXPOSE 8080
