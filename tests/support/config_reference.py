#!/usr/bin/env python3
"""Rewrites the key tables of docs/configuration.md from `ocf-tabled --help-config`.

Usage: tests/support/config_reference.py BUILD_DIR
Everything above the first "## [" heading is kept as written; the tables below are generated
(tests/common/test_config.c checks that every key stays documented)."""
import re, subprocess, sys

INTRO = {
    'node': 'Identity and places of this host. Every daemon reads this section.',
    'tabled': 'The node table (ocf-tabled).',
    'gossipd': 'Talking to other hosts (ocf-gossipd): see [gossip.md](gossip.md).',
    'proxyd': 'The HTTP API and request routing (ocf-proxyd): see [proxyd.md](proxyd.md).',
    'workerd': 'The host agent (ocf-workerd): see [workerd.md](workerd.md).',
    'service.NAME': 'One section per backend that ocf-workerd runs or watches; NAME is the service name others '
                    'route to (`llm` for the OpenAI routes).\n'
                    '`systemctl reload ocf-workerd` (SIGHUP) applies changes to these sections: added ones start,\n'
                    'removed ones are drained and stopped, changed ones are swapped to a new backend as `swap` says,\n'
                    'unchanged ones are left alone ([workerd.md](workerd.md#changing-a-model-reload)).',
}

def main():
    reference = subprocess.run([sys.argv[1] + '/bin/ocf-tabled', '--help-config'], capture_output=True,
                               text=True, check=True).stdout.splitlines()
    out, i = [], 0
    while i < len(reference):
        line = reference[i]
        heading = re.match(r'^\[(.+)\]$', line)
        key = re.match(r'^  (\S+)\s+(.*), default (.*)$', line)
        if heading:
            name = heading.group(1)
            out += ['## [%s]' % name, '', INTRO.get(name, ''), '',
                    '| key | type | default | meaning |', '|---|---|---|---|']
        elif key:
            default = key.group(3).strip('"')
            if default not in ('(empty)', '(unset)'):
                default = '`%s`' % default
            meaning = reference[i + 1].strip()
            out.append('| `%s` | %s | %s | %s |' % (key.group(1), key.group(2).replace('|', '\\|'), default,
                                                    meaning.replace('|', '\\|')))
            i += 1
        elif not line and out and out[-1] != '':
            out.append('')
        i += 1
    path = 'docs/configuration.md'
    text = open(path).read()
    head = text[:text.index('\n## [') + 1]
    open(path, 'w').write(head + '\n'.join(out).rstrip() + '\n')

main()
