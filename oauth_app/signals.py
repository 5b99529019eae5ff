"""Keep the active-token cache in step with the database, whatever path changed it
(django-oauth-toolkit's revoke(), a refresh rotation, a family revocation, the admin, a cascade), and end
a user's tokens when their account is deactivated, deleted or gets a new password (oauth_app.accounts)."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from oauth2_provider.models import get_access_token_model

from oauth_app.accounts import ends_access, revoke_user_tokens
from oauth_app.consent import forget_consents
from oauth_app.models import Client
from oauth_app.tokens import forget_active

AccessToken = get_access_token_model()
User = get_user_model()


@receiver(post_delete, sender=AccessToken)
def forget_deleted_access_token(sender, instance, **kwargs):
    forget_active([instance.token_checksum])


@receiver(post_save, sender=Client)
def forget_tokens_of_disabled_client(sender, instance, **kwargs):
    if not instance.is_enabled:
        checksums = AccessToken.objects.filter(application=instance).values_list("token_checksum", flat=True)
        forget_active(list(checksums))


@receiver(pre_save, sender=Client)
def forget_consents_when_redirect_uris_change(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("redirect_uris", flat=True).first()
    if stored is not None and set(stored.split()) != set(instance.redirect_uris.split()):
        forget_consents(client=instance)


@receiver(pre_save, sender=User)
def revoke_tokens_of_deactivated_or_new_password(sender, instance, update_fields=None, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"is_active", "password"} & set(update_fields):
        return  # e.g. last_login at every sign-in: no query
    stored = sender.objects.filter(pk=instance.pk).only("is_active", "password").first()
    if stored is not None and ends_access(stored=stored, changed=instance):
        revoke_user_tokens(user=instance)


@receiver(pre_delete, sender=User)
def revoke_tokens_of_deleted_user(sender, instance, **kwargs):
    revoke_user_tokens(user=instance)
