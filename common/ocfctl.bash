# bash completion for ocfctl, installed as /usr/share/bash-completion/completions/ocfctl.
# Plain bash (compgen), no helper of the bash-completion package, so it also works sourced alone.
_ocfctl ()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local daemon=tabled command= word i
    # What the line already holds: the daemon (-d) and the command or verb.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            -d|--daemon) daemon=${COMP_WORDS[i+1]}; ((i++)) ;;
            -c|--config|-r|--run-dir|-t|--timeout) ((i++)) ;;
            -*) ;;
            *) command=$word; break ;;
        esac
    done
    case $prev in
        -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -r|--run-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -d|--daemon) COMPREPLY=($(compgen -W "tabled gossipd proxyd workerd" -- "$cur")); return ;;
        -t|--timeout) COMPREPLY=(); return ;;
    esac
    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--config --run-dir --daemon --timeout --json --help" -- "$cur"))
        elif [[ $daemon == tabled ]]; then
            COMPREPLY=($(compgen -W "members models services events drain undrain HELLO GET LIST PROVIDERS SNAPSHOT DIGEST
                                     DELTA STATS SELF.SET SERVICE.UP SERVICE.DOWN SERVICE.LOAD MERGE SEEN LEAVE
                                     SELF.RENEW" -- "$cur"))
        elif [[ $daemon == workerd ]]; then
            COMPREPLY=($(compgen -W "HELLO STATS DRAIN UNDRAIN STOP" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "HELLO STATS" -- "$cur"))
        fi
        return
    fi
    case $command in
        members|models|services) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
        events) COMPREPLY=($(compgen -W "--follow --json" -- "$cur")) ;;
        drain) COMPREPLY=($(compgen -W "--no-wait --stop --json" -- "$cur")) ;;
        undrain) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}
complete -F _ocfctl ocfctl
