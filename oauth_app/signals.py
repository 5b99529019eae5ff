"""Keep the active-token cache in step with the database, whatever path changed it
(django-oauth-toolkit's revoke(), a refresh rotation, a family revocation, the admin, a cascade)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oauth2_provider.models import get_access_token_model

from oauth_app.models import Client
from oauth_app.tokens import forget_active

AccessToken = get_access_token_model()


@receiver(post_delete, sender=AccessToken)
def forget_deleted_access_token(sender, instance, **kwargs):
    forget_active([instance.token_checksum])


@receiver(post_save, sender=Client)
def forget_tokens_of_disabled_client(sender, instance, **kwargs):
    if not instance.is_enabled:
        checksums = AccessToken.objects.filter(application=instance).values_list("token_checksum", flat=True)
        forget_active(list(checksums))
