# The gateway's decisions in squid's access log (logformat cco, squid.conf),
# one per connection, as tab-separated fields:  client  name  verdict  ms
# One connection counts once: squid's NONE_NONE line of a peeked handshake that
# went on to a tunnel is not a decision of its own. Names and addresses only:
# a line whose name or client has any other character is not printed (a
# count of them goes to stderr as "skipped N").
# Used by egress-summary.sh and egress-forwarder.sh.
{
  delete f
  for (i = 2; i <= NF; i++) { k = substr($i, 1, index($i, "=") - 1); f[k] = substr($i, index($i, "=") + 1) }
  if (f["verdict"] == "-" || f["verdict"] == "") next
  if (f["verdict"] == "allowed:tls" && f["squid"] != "TCP_TUNNEL") next
  name = tolower(f["name"])
  if (name !~ /^[a-z0-9_.-]+$/ || length(name) > 253 || f["client"] !~ /^[0-9a-f.:]+$/ || f["verdict"] !~ /^(allowed|refused):[a-z-]+$/ || $1 !~ /^[0-9]+\.[0-9][0-9][0-9]$/) {
    skipped++
    next
  }
  # squid's %ts.%03tu: seconds and milliseconds.
  printf "%s\t%s\t%s\t%s\n", f["client"], name, f["verdict"], substr($1, 1, length($1) - 4) substr($1, length($1) - 2)
}
END { if (skipped > 0) printf "skipped %d\n", skipped > "/dev/stderr" }
