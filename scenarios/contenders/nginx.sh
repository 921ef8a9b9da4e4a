#!/bin/sh
# Starts nginx in the foreground for one benchmark run, from a config generated into WORKDIR.
# Usage: nginx.sh WORKDIR ADDR PAYLOAD KEEPALIVE(on|off) WORKERS TLS(true|false) CERT KEY
# Over TLS it speaks HTTP/2 too (ALPN h2, Debian's nginx-light has http_v2); cleartext stays
# HTTP/1.1 (nginx's cleartext http2 listener would be h2c only).
# The runner has already restricted this process (and so nginx) to the server CPUs; `auto`
# affinity pins each worker to one of them.
set -eu
workdir=$1 addr=$2 payload=$3 keepalive=$4 workers=$5 tls=$6 cert=$7 key=$8

nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "nginx.sh: nginx is not installed (apt-get install nginx-light)" >&2; exit 127; }

mkdir -p "$workdir/www" "$workdir/tmp"
chmod 755 "$workdir" "$workdir/www"
# The body: PAYLOAD bytes of 'a', like the responder's.
head -c "$payload" /dev/zero | tr '\0' a > "$workdir/www/index.html"
chmod 644 "$workdir/www/index.html"

if [ "$keepalive" = on ]; then
    keepalive_conf="keepalive_timeout 75s; keepalive_requests 100000000;"
else
    keepalive_conf="keepalive_timeout 0;"
fi
if [ "$tls" = true ]; then
    listen_conf="listen $addr ssl http2 reuseport backlog=4096;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.3;
        ssl_session_cache shared:SSL:16m;
        ssl_session_tickets on;"
else
    listen_conf="listen $addr reuseport backlog=4096;"
fi

cat > "$workdir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes $workers;
worker_cpu_affinity auto;
pid $workdir/nginx.pid;
error_log $workdir/error.log warn;

events {
    worker_connections 16384;
}

http {
    access_log off;
    server_tokens off;
    default_type text/plain;
    sendfile on;
    tcp_nodelay on;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    $keepalive_conf
    client_body_temp_path $workdir/tmp/body;
    proxy_temp_path $workdir/tmp/proxy;
    fastcgi_temp_path $workdir/tmp/fastcgi;
    uwsgi_temp_path $workdir/tmp/uwsgi;
    scgi_temp_path $workdir/tmp/scgi;

    server {
        $listen_conf
        root $workdir/www;
        location / {
            try_files /index.html =404;
        }
    }
}
CONF

exec "$nginx" -p "$workdir" -c "$workdir/nginx.conf" -e "$workdir/error.log"
