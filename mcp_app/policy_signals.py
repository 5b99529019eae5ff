"""Every change that can alter an access decision bumps the policy version (mcp_app.policy), whether it is
made through the admin, a management command, the shell or an upstream IdP's group sync."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from mcp_app.models import AccessGrant
from mcp_app.policy import policy_changed

User = get_user_model()


@receiver(post_save, sender=AccessGrant)
@receiver(post_delete, sender=AccessGrant)
@receiver(post_save, sender=Group)  # a rename: code defaults and principals name groups
@receiver(post_delete, sender=Group)
def grants_or_groups_changed(sender, **kwargs):
    policy_changed()


@receiver(m2m_changed, sender=User.groups.through)
def membership_changed(sender, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        policy_changed()


@receiver(post_save, sender=User)
def user_changed(sender, instance, created, update_fields=None, raw=False, **kwargs):
    # A sign-in saves last_login only: that changes nothing here, and happens often.
    if raw or created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    policy_changed()


@receiver(post_delete, sender=User)
def user_deleted(sender, **kwargs):
    policy_changed()
