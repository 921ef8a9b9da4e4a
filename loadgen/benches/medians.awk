# Medians over the rounds of compare_clients.sh and compare_protocols.sh, and loadgen's median
# req/s over each other client's. Input lines: KEY... CLIENT REQS "req/s" CPU "us CPU/request",
# with `-v keys=N` the number of fields up to and including CLIENT.
function median(list,   a, c, i, j, t) {
  c = split(list, a, " ")
  for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
{
  group = ""; for (i = 1; i < keys; i++) group = group $i " "
  k = group $keys; client[k] = $keys; of[k] = group
  rps[k] = rps[k] " " $(keys + 1); cpu[k] = cpu[k] " " $(keys + 3)
  if (!(k in seen)) { seen[k] = 1; order[++m] = k }
}
END {
  for (i = 1; i <= m; i++) { k = order[i]; r[k] = median(rps[k]); u[k] = median(cpu[k]) }
  for (i = 1; i <= m; i++) {
    k = order[i]; n = split(k, f, " "); lg = r[of[k] "loadgen"]
    for (j = 1; j <= n; j++) printf "%-10s ", f[j]
    printf "%10.0f req/s %7.2f us CPU/request", r[k], u[k]
    if (client[k] != "loadgen" && r[k] > 0) printf "   loadgen/%s %.2fx", client[k], lg / r[k]
    printf "\n"
  }
}
